"""Where alarm judgements read and write: measurements in from ClickHouse, alarm rows and the NOC
configuration out to it."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from cdrflow.clickhouse.sql import query, table, utc
from cdrflow.infra.config import Settings

from cdrflow.incidents.alarms import MINUTE_MS, AlarmBook, long_calls, premium_surges, utilisation

ALARM_COLUMNS = ["id", "version", "status", "kind", "subject", "since", "updated_at", "detail"]
MAX_CATCH_UP_MS = 180 * MINUTE_MS    # after downtime, minutes older than this are not judged again


def _at(ms: int) -> str:
    return utc(datetime.fromtimestamp(ms / 1000, timezone.utc))


def store_noc_config(client: Client, settings: Settings, now_ms: int) -> None:
    """Trunk channels and the longest call as configured, for the views and Grafana."""
    row = [datetime.fromtimestamp(now_ms / 1000, timezone.utc), settings.longest_call_s, settings.trunk_channels]
    client.insert(table("noc_config", settings), [row],
                  column_names=["configured_at", "longest_call_s", "trunk_channels"])


def store_alarms(client: Client, settings: Settings, events: list[dict[str, Any]]) -> None:
    """One insert for the alarm versions a judgement produced (the table keeps the newest)."""
    rows = [[e["id"], e["version"], e["status"], e["kind"], e["subject"], e["since_ms"] // 1000,
             e["updated_ms"] // 1000, orjson.dumps(e).decode()] for e in events]
    if rows:
        client.insert(table("alarms", settings), rows, column_names=ALARM_COLUMNS)


def load_book(client: Client, settings: Settings) -> tuple[AlarmBook, int]:
    """The alarms as stored (open ones go on) and the newest judgement that reported one (0: none)."""
    rows = list(client.query(query("alarm_state", settings)).named_results())
    open_alarms = [orjson.loads(r["detail"]) for r in rows if r["status"] != "resolved"]
    return AlarmBook(open_alarms, {r["id"] for r in rows}), max((int(r["updated_ms"]) for r in rows), default=0)


def measurements(client: Client, settings: Settings, first_ms: int, at_ms: int) -> dict[str, Any]:
    """What the rules need to judge every minute boundary in [first_ms, at_ms]."""
    rules = settings.alarms
    trunk_from = first_ms - max(rules.utilisation_minutes, rules.quiet_minutes) * MINUTE_MS
    trunks: dict[str, dict[int, tuple[int, int]]] = {}
    for r in client.query(query("alarm_trunk_minutes", settings),
                          parameters={"from": _at(trunk_from), "to": _at(at_ms)}).named_results():
        trunks.setdefault(r["trunk"], {})[int(r["minute_ms"])] = (int(r["peak_concurrent"]), int(r["channels"]))
    spans = list(client.query(query("alarm_long_calls", settings), parameters={
        "from": _at(first_ms - MINUTE_MS), "to": _at(at_ms), "long_s": rules.long_call_s}).named_results())
    premium: dict[str, dict[int, int]] = {}
    if rules.premium_prefixes:
        premium_from = first_ms - (rules.premium_window_minutes + rules.premium_baseline_hours * 60) * MINUTE_MS
        for r in client.query(query("alarm_premium_calls", settings), parameters={
                "from": _at(premium_from), "to": _at(at_ms), "prefixes": rules.premium_prefixes}).named_results():
            premium.setdefault(r["prefix"], {})[int(r["minute_ms"])] = int(r["calls"])
    return {"trunks": trunks, "spans": spans, "premium": premium}


def judge_minutes(book: AlarmBook, measured: dict[str, Any], settings: Settings, previous_ms: int,
                  at_ms: int) -> list[dict[str, Any]]:
    """Alarm events of every minute boundary after previous_ms up to at_ms, in time order (each
    rule reads only the minutes before the boundary it judges)."""
    rules, events = settings.alarms, []
    for t in range(previous_ms + MINUTE_MS, at_ms + 1, MINUTE_MS):
        events += book.judge("utilisation", utilisation(measured["trunks"], t, rules), t)
        events += book.judge("long_call", long_calls(measured["spans"], t - MINUTE_MS, t, rules), t)
        events += book.judge("premium_surge", premium_surges(measured["premium"], t, rules), t)
    return events
