"""`cdrflow report TENANT --period …`: the summary, directions, channel load and extension views of
one tenant as a self-contained HTML page (tables plus PNG charts inlined as base64), a report to
hand a tenant's customer in place of a monthly spreadsheet.

Queries are the tenant views through run_query (so it works while a worker owns the embedded
engine), with values as server-side parameters; the HTML is built from their rows only.
"""
from __future__ import annotations

import base64
import html
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cdrflow.tenants import charts as tenant_charts
from cdrflow.infra.config import Settings
from cdrflow.clickhouse.client import run_query
from cdrflow.tenants.views import rule_defaults, view_query

VIEWS = ("summary", "directions", "channel_load", "extensions")
BUSIEST = 10   # intervals listed under the channel-load chart

_LAST = re.compile(r"^(\d+)([dh])$")


def parse_period(text: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[from, to) in UTC from '7d' / '24h' (up to now), '2026-11' (a month), '2026-11-20' (a day)
    or '2026-11-01..2026-12-01'."""
    now = now or datetime.now(timezone.utc)
    text = text.strip()
    if m := _LAST.match(text):
        return now - timedelta(**{"days" if m[2] == "d" else "hours": int(m[1])}), now
    try:
        if ".." in text:
            start, end = (_day(part) for part in text.split("..", 1))
        elif re.fullmatch(r"\d{4}-\d{2}", text):
            start = _day(text + "-01")
            end = (start + timedelta(days=32)).replace(day=1)
        else:
            start = _day(text)
            end = start + timedelta(days=1)
    except ValueError:
        raise ValueError(f"period {text!r}: use 7d, 24h, 2026-11, 2026-11-20 or 2026-11-01..2026-12-01") from None
    if end <= start:
        raise ValueError(f"period {text!r} is empty")
    return start, end


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def fetch(settings: Settings, tenant: str, start: datetime, end: datetime) -> dict[str, list[dict]]:
    """Each report view's rows as dicts."""
    data = {}
    for view in VIEWS:
        columns, rows = run_query(settings, *view_query(settings, view, tenant, start, end))
        data[view] = [dict(zip(columns, row)) for row in rows]
    return data


# columns that are probabilities or shares of time: four decimals; other fractions (money, seconds, Erlangs) two
FINE = {"blocking", "load"}


def cell(value, column: str = "") -> str:
    """A figure as the report prints it: integers with thousands separators, amounts with two
    decimals, probabilities and shares with four, instants to the minute."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if column in FINE else f"{value:,.2f}"
    if moment := _instant(value):
        return f"{moment:%Y-%m-%d %H:%M}"
    return str(value)


def _instant(value) -> datetime | None:
    """Datetimes arrive as objects from a client and as ISO text through the worker's JSON."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?", value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return None


def _table(rows: list[dict], columns: list[str] | None = None) -> str:
    if not rows:
        return "<p class=none>No calls in this period.</p>"
    columns = columns or list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(r[c], c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _summary(rows: list[dict]) -> str:
    if not rows or not rows[0]["calls"]:
        return _table([])
    row = rows[0]
    classes = ["incoming", "missed", "outgoing", "internal", "forwarded"]
    chart = _image(tenant_charts.bars(classes, [row[c] for c in classes], "Calls by class", "calls"), "calls by class")
    pairs = [{"figure": k.replace("_", " "), "value": v} for k, v in row.items()]
    return _table(pairs) + chart


def _directions(rows: list[dict]) -> str:
    if not rows:
        return _table([])
    labels = [r["direction"] for r in rows]
    return (_table(rows) + _image(tenant_charts.bars(labels, [r["cost"] for r in rows], "Cost by direction", "cost"),
                                  "cost by direction"))


def _channel_load(rows: list[dict], channels: int) -> str:
    if not rows:
        return _table([])
    buckets = [_instant(r["bucket"]) for r in rows]
    chart = tenant_charts.channel_load(buckets, [r["peak_concurrent"] for r in rows], [r["erlangs"] for r in rows],
                                       channels)
    busiest = sorted(rows, key=lambda r: (-r["erlangs"], -r["peak_concurrent"]))[:BUSIEST]
    worst = max(rows, key=lambda r: r["channels_needed"])
    verdict = (f"<p>Peak concurrent calls: <b>{cell(max(r['peak_concurrent'] for r in rows))}</b> on "
               f"{cell(channels)} channels; the busiest interval needs <b>{cell(worst['channels_needed'])}</b> "
               f"channels for the target grade of service.</p>")
    return verdict + _image(chart, "channel load") + f"<h3>Busiest {len(busiest)} intervals</h3>" + _table(busiest)


def _extensions(rows: list[dict]) -> str:
    if not rows:
        return _table([])
    top = rows[:20]
    chart = tenant_charts.bars([r["extension"] for r in top], [r["talk_s"] / 60 for r in top],
                               "Talk time per extension", "minutes", horizontal=True)
    return _table(rows) + _image(chart, "talk time per extension")


_STYLE = """body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%;display:block;margin:1em 0}"""


def render_html(tenant: str, start: datetime, end: datetime, data: dict[str, list[dict]], channels: int) -> str:
    period = f"{cell(start)} – {cell(end)} UTC"
    sections = [
        ("Summary", _summary(data["summary"])),
        ("Directions (calls placed)", _directions(data["directions"])),
        ("Channel load", _channel_load(data["channel_load"], channels)),
        ("Extensions", _extensions(data["extensions"])),
    ]
    body = "".join(f"<h2>{html.escape(title)}</h2>{content}" for title, content in sections)
    return (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>Calls of {html.escape(tenant)}, {period}</title>"
            f"<style>{_STYLE}</style></head><body><h1>Calls of {html.escape(tenant)}</h1><p>{period}</p>{body}"
            "</body></html>")


def write_report(settings: Settings, tenant: str, start: datetime, end: datetime, path: Path) -> Path:
    data = fetch(settings, tenant, start, end)
    channels = rule_defaults(settings, tenant)["channels"]
    path.write_text(render_html(tenant, start, end, data, channels), encoding="utf-8")
    return path
