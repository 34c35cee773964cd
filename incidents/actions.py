"""Ops' acknowledgements and notes on incidents (`cdrflow incidents ack` / `note`), kept in ClickHouse."""
from __future__ import annotations

from typing import Literal

from cdrflow.clickhouse.client import run_query
from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings
from cdrflow.infra.runtime import QueryError


def resolve_id(settings: Settings, prefix: str) -> str:
    """The full incident id a unique prefix names."""
    _, rows = run_query(settings, query("incident_id", settings), {"id": prefix})
    if not rows:
        raise QueryError(f"no incident {prefix!r}")
    if len(rows) > 1:
        raise QueryError(f"{prefix!r} matches several incidents: give more of the id")
    return rows[0][0]


def add_action(settings: Settings, prefix: str, action: Literal["ack", "note"], by: str, text: str = "") -> str:
    """Records an acknowledgement or a note; returns the incident's full id."""
    if action == "note" and not text.strip():
        raise QueryError("a note needs text")
    incident_id = resolve_id(settings, prefix)
    run_query(settings, query("incident_action_add", settings),
              {"id": incident_id, "action": action, "by": by, "text": text})
    return incident_id


def actions_of(settings: Settings, incident_id: str) -> list[dict]:
    columns, rows = run_query(settings, query("incident_actions", settings), {"id": incident_id})
    return [dict(zip(columns, row)) for row in rows]
