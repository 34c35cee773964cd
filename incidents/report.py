"""`cdrflow incidents show`: the escalation report ops send to an upstream carrier.

The detector's incident (kinds, timing, lost calls, sample calls) plus exact figures from the
stored aggregates for the hour before and for the incident window, and ops' acknowledgements and
notes; as JSON, Markdown, or HTML (the Markdown rendered) to attach to the carrier's ticket.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson

from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings
from cdrflow.clickhouse.client import run_query
from cdrflow.infra.runtime import QueryError
from cdrflow.schemas.causes import SIP_TO_Q850

from cdrflow.incidents.actions import actions_of

BEFORE_S = 3600


def _figures(settings: Settings, incident: dict, start_s: int, end_s: int) -> dict[str, Any] | None:
    columns, rows = run_query(settings, query("quality_between", settings), {
        "from": start_s, "to": end_s, "interconnect": incident["interconnect"], "direction": incident["direction"]})
    return dict(zip(columns, rows[0])) if rows else None


def build_report(settings: Settings, incident_id: str) -> dict[str, Any]:
    _, rows = run_query(settings, query("incident", settings), {"id": incident_id})
    if not rows:
        raise QueryError(f"no incident {incident_id!r}")
    if len(rows) > 1:
        raise QueryError(f"{incident_id!r} matches several incidents: give more of the id")
    incident = orjson.loads(rows[0][0])
    start_s = incident["start_ms"] // 1000
    end_s = (incident["end_ms"] or incident["updated_ms"]) // 1000
    return {
        "incident": {k: incident[k] for k in ("id", "interconnect", "direction", "status", "kinds", "severity",
                                              "lost_calls", "baseline", "worst")},
        "window": {"start": _iso(start_s), "end": _iso(end_s), "ongoing": incident["end_ms"] is None},
        "before": _figures(settings, incident, start_s - BEFORE_S, start_s),
        "during": _figures(settings, incident, start_s, end_s),
        "sample_calls": incident["samples"],
        "actions": actions_of(settings, incident["id"]),
    }


def _iso(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def _top(counts: dict, n: int = 5) -> str:
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:n]
    return ", ".join(f"{code} × {count}" for code, count in ranked) or "–"


def to_markdown(report: dict[str, Any]) -> str:
    inc, window, before, during = report["incident"], report["window"], report["before"] or {}, report["during"] or {}
    end = "ongoing" if window["ongoing"] else window["end"]
    lines = [
        f"# Interconnect incident {inc['id']}",
        "",
        f"**Interconnect:** {inc['interconnect']} "
        f"({'outgoing to' if inc['direction'] == 'out' else 'incoming from'} the carrier)  ",
        f"**Window:** {window['start']} → {end}  ",
        f"**Kind:** {', '.join(inc['kinds'])} · **severity:** {inc['severity']} · **status:** {inc['status']}  ",
        f"**Estimated lost calls:** {inc['lost_calls']:.0f} (expected answered at baseline minus answered)",
        "",
        "| figure | hour before | during |",
        "|---|---|---|",
        f"| seizures | {before.get('seizures', 0)} | {during.get('seizures', 0)} |",
        f"| answered | {before.get('answered', 0)} | {during.get('answered', 0)} |",
        f"| ASR | {_pct(before.get('asr'))} | {_pct(during.get('asr'))} |",
        f"| NER | {_pct(before.get('ner'))} | {_pct(during.get('ner'))} |",
        f"| network-failure share | {_pct(before.get('network_share'))} | {_pct(during.get('network_share'))} |",
        f"| PDD avg / p95 ms | {before.get('pdd_avg_ms') or 0:.0f} / {before.get('pdd_p95_ms') or '–'} "
        f"| {during.get('pdd_avg_ms') or 0:.0f} / {during.get('pdd_p95_ms') or '–'} |",
        "",
        f"**Q.850 causes during:** {_top(during.get('causes') or {})}  ",
        f"**SIP final responses during:** {_top(during.get('sip_codes') or {})}",
        "",
        "## Sample failed calls",
        "",
        "| start (UTC) | call id | Q.850 | SIP |",
        "|---|---|---|---|",
    ]
    for call in report["sample_calls"]:
        q850 = call["q850_cause"] if call["q850_cause"] is not None else SIP_TO_Q850.get(call["sip_code"] or 0, "–")
        started = datetime.fromtimestamp(call["start_ms"] / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        lines.append(f"| {started} | `{call['call_id']}` | {q850} | {call['sip_code'] or '–'} |")
    lines += ["", "## Acknowledgements and notes", ""]
    acks = [a for a in report["actions"] if a["action"] == "ack"]
    lines.append(f"**Acknowledged** by {acks[0]['by']} at {acks[0]['time']}" if acks else "**Not acknowledged**")
    if report["actions"]:
        lines += ["", "| at | what | by | text |", "|---|---|---|---|"]
        lines += [f"| {a['time']} | {a['action']} | {_cell(a['by'])} | {_cell(a['text'])} |" for a in report["actions"]]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Free text inside a Markdown table cell: a pipe or a line break would end the cell."""
    return text.replace("|", "\\|").replace("\n", " ") or "–"


def to_html(report: dict[str, Any]) -> str:
    """The Markdown report as a standalone HTML page (escaped: notes are free text)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(to_markdown(report))
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>Interconnect incident {report['incident']['id']}</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
            "table{border-collapse:collapse}td,th{border:1px solid #999;padding:.2em .5em}</style>"
            f"</head><body>\n{body}</body></html>\n")


def render(report: dict[str, Any], fmt: str) -> str:
    """The report as `fmt`: md, html or json."""
    if fmt == "html":
        return to_html(report)
    if fmt == "json":
        return orjson.dumps(report, option=orjson.OPT_INDENT_2, default=str).decode() + "\n"
    return to_markdown(report)
