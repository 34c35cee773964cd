"""`cdrflow incidents show`: the escalation report ops send to an upstream carrier.

The detector's incident (kinds, timing, lost calls, sample calls) plus exact figures from the
stored aggregates for the hour before and for the incident window, as JSON and Markdown.
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
    return "\n".join(lines) + "\n"
