"""The tenant views as a library: one (sql, parameters) per question, the rule defaults taken
from Settings, so the CLI, the report and the tests ask exactly the same thing.

Each view's question is clickhouse/queries/tenant_<view>.sql; the parameters sent are the ones
that file takes, as server-side {x:Type} parameters.
"""
from __future__ import annotations

from datetime import datetime

from cdrflow.clickhouse.sql import parameters, query, utc
from cdrflow.infra.config import Settings

VIEWS = ("summary", "trend", "call_types", "directions", "destinations", "top_numbers", "incoming_numbers",
         "extensions", "missed_not_called_back", "channel_load", "notebook")


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
    """The question of tenant view `view` for [start, end); rules override the Settings defaults."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; have {', '.join(VIEWS)}")
    defaults = rule_defaults(settings, tenant)
    unknown = set(rules) - set(defaults)
    if unknown:
        raise ValueError(f"unknown rule(s) {sorted(unknown)}")
    values = {**defaults, **rules, "tenant": tenant, "from": utc(start), "to": utc(end)}
    sql = query(f"tenant_{view}", settings)
    return sql, {name: values[name] for name in parameters(sql)}


CALL_CLASSES = ("incoming", "missed", "outgoing", "internal", "forwarded")


def save_analysis_query(settings: Settings, tenant: str, name: str, prefix: str, classes: list[str] = (),
                        note: str = "") -> tuple[str, dict]:
    """A named filter: calls whose remote or tenant number starts with `prefix` (E.164, '+…')."""
    if not name:
        raise ValueError("an analysis needs a name")
    if bad := set(classes) - set(CALL_CLASSES):
        raise ValueError(f"unknown call class(es) {sorted(bad)}; have {', '.join(CALL_CLASSES)}")
    return query("tenant_save_analysis", settings), {"tenant": tenant, "name": name, "prefix": prefix,
                                                     "classes": list(classes), "note": note}


def list_analyses_query(settings: Settings, tenant: str) -> tuple[str, dict]:
    return query("tenant_saved_analyses", settings), {"tenant": tenant}
