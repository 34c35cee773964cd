"""Where detector decisions go: baselines in from ClickHouse, incident rows out to it."""
from __future__ import annotations

from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

from cdrflow.clickhouse.sql import query, table
from cdrflow.infra.config import Settings

from cdrflow.incidents.detector import Figures

INCIDENT_COLUMNS = ["id", "version", "status", "interconnect", "direction", "kinds", "severity",
                    "start_time", "end_time", "updated_at", "lost_calls", "detail"]


# A baseline needs this many times min_seizures: its own sampling noise must be small next to
# the window's, or a freshly seen interconnect pages on its first few noisy minutes.
BASELINE_STRENGTH = 10


def load_baselines(client: Client, settings: Settings, at_ms: int) -> dict[str, Figures]:
    """"interconnect|direction" → baseline Figures: history where it is strong enough, else recent."""
    result = client.query(query("baseline", settings), parameters={"at": at_ms // 1000, "days": settings.baseline_days})
    found: dict[str, dict[str, Figures]] = {}
    for row in result.named_results():
        figures = Figures(*(int(row[f]) for f in ("seizures", "answered", "effective", "network", "pdd_sum", "pdd_n")),
                          minutes=int(row["minutes"]))
        found.setdefault(f'{row["interconnect"]}|{row["direction"]}', {})[row["basis"]] = figures
    baselines = {}
    for key, bases in found.items():
        t = settings.thresholds(key.split("|")[0])
        chosen = next((bases[b] for b in ("history", "recent") if b in bases
                       and bases[b].seizures >= BASELINE_STRENGTH * t.min_seizures
                       and bases[b].minutes >= t.min_baseline_minutes), None)
        if chosen is not None:
            baselines[key] = chosen
    return baselines


def store_incidents(client: Client, settings: Settings, incidents: list[dict[str, Any]]) -> None:
    """One insert for all the incident versions a judgement produced (the table keeps the newest)."""
    rows = [[i["id"], i["version"], i["status"], i["interconnect"], i["direction"], i["kinds"], i["severity"],
             i["start_ms"] // 1000, i["end_ms"] // 1000 if i["end_ms"] is not None else None,
             i["updated_ms"] // 1000, float(i["lost_calls"]), orjson.dumps(i).decode()] for i in incidents]
    if rows:
        client.insert(table("incidents", settings), rows, column_names=INCIDENT_COLUMNS)
