"""The tenant views as a library: one (sql, parameters) per question, the rule defaults taken
from Settings, so the CLI, the report and the tests ask exactly the same thing.

Values always travel as server-side {x:Type} parameters; the only text put into SQL is the view
name (checked against VIEWS) and the validated database name.
"""
from __future__ import annotations

from datetime import datetime, timezone

from cdrflow.clickhouse.sql import fill
from cdrflow.infra.config import Settings

# view → (the rule parameters it takes, default ORDER BY … LIMIT for views that answer "top").
VIEWS: dict[str, tuple[tuple[str, ...], str]] = {
    "summary": ((), ""),
    "trend": (("bucket_s",), ""),
    "call_types": (("unique_days", "target_min_s", "sales_cycle_days", "spam_calls_per_day", "spam_max_talk_s",
                    "callback_numbers"), ""),
    "directions": ((), "ORDER BY cost DESC, calls DESC"),
    "destinations": ((), "ORDER BY cost DESC, calls DESC LIMIT {top:UInt32}"),
    "top_numbers": ((), "ORDER BY calls DESC, talk_s DESC, number LIMIT {top:UInt32}"),
    "incoming_numbers": ((), "ORDER BY calls DESC, number"),
    "extensions": ((), "ORDER BY talk_s DESC, extension"),
    "missed_not_called_back": (("callback_hours",), "ORDER BY missed_at"),
    "channel_load": (("bucket_s", "channels", "gos"), ""),
    "notebook": (("name",), ""),
}


def utc(moment: datetime) -> str:
    """DateTime64(3, 'UTC') parameter text; naive datetimes are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def rule_defaults(settings: Settings, tenant: str) -> dict:
    rules = settings.call_types
    config = settings.tenants.get(tenant)
    return {
        "unique_days": rules.unique_days, "target_min_s": rules.target_min_s,
        "sales_cycle_days": rules.sales_cycle_days, "spam_calls_per_day": rules.spam_calls_per_day,
        "spam_max_talk_s": rules.spam_max_talk_s, "callback_hours": rules.callback_hours, "gos": rules.target_gos,
        "callback_numbers": list(config.callback_numbers) if config else [],
        "channels": config.channels if config else 30,
        "bucket_s": 3600, "top": 20, "name": "",
    }


def view_query(settings: Settings, view: str, tenant: str, start: datetime, end: datetime,
               **rules) -> tuple[str, dict]:
    """SELECT over tenant view `view` for [start, end); rules override the Settings defaults."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; have {', '.join(VIEWS)}")
    takes, tail = VIEWS[view]
    defaults = rule_defaults(settings, tenant)
    unknown = set(rules) - set(defaults)
    if unknown:
        raise ValueError(f"unknown rule(s) {sorted(unknown)}")
    values = {**defaults, **rules}
    args = ", ".join(f"{p} = {{{p}:{_TYPES[p]}}}" for p in ("tenant", "from", "to", *takes))
    sql = fill(f"SELECT * FROM {{database}}.tenant_{view}({args}) {tail}", settings)
    parameters = {"tenant": tenant, "from": utc(start), "to": utc(end),
                  **{p: values[p] for p in takes}, **({"top": values["top"]} if "{top:" in tail else {})}
    return sql.strip(), parameters


_TYPES = {
    "tenant": "String", "from": "DateTime64(3, 'UTC')", "to": "DateTime64(3, 'UTC')", "bucket_s": "UInt32",
    "unique_days": "UInt32", "target_min_s": "UInt32", "sales_cycle_days": "UInt32", "spam_calls_per_day": "UInt32",
    "spam_max_talk_s": "UInt32", "callback_numbers": "Array(String)", "callback_hours": "UInt32",
    "channels": "UInt32", "gos": "Float64", "name": "String",
}

SAVE_ANALYSIS = ("INSERT INTO {database}.tenant_saved_analyses (tenant, name, number_prefix, call_classes, note) "
                 "SELECT {tenant:String}, {name:String}, {prefix:String}, {classes:Array(String)}, {note:String}")

LIST_ANALYSES = ("SELECT name, argMax(number_prefix, saved_at) AS prefix, argMax(call_classes, saved_at) AS classes, "
                 "argMax(note, saved_at) AS note, max(saved_at) AS saved_at FROM {database}.tenant_saved_analyses "
                 "WHERE tenant = {tenant:String} GROUP BY name ORDER BY name")

CALL_CLASSES = ("incoming", "missed", "outgoing", "internal", "forwarded")


def save_analysis_query(settings: Settings, tenant: str, name: str, prefix: str, classes: list[str] = (),
                        note: str = "") -> tuple[str, dict]:
    """A named filter: calls whose remote or tenant number starts with `prefix` (E.164, '+…')."""
    if not name:
        raise ValueError("an analysis needs a name")
    if bad := set(classes) - set(CALL_CLASSES):
        raise ValueError(f"unknown call class(es) {sorted(bad)}; have {', '.join(CALL_CLASSES)}")
    return fill(SAVE_ANALYSIS, settings), {"tenant": tenant, "name": name, "prefix": prefix,
                                           "classes": list(classes), "note": note}


def list_analyses_query(settings: Settings, tenant: str) -> tuple[str, dict]:
    return fill(LIST_ANALYSES, settings), {"tenant": tenant}
