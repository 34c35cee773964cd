"""Platform-health samples: the worker's in-memory counters, appended to ClickHouse every few
seconds (table platform_health, migration 0005) so Grafana can chart CDRs/s, lag and dead letters."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timezone
from typing import Iterable

from clickhouse_connect.driver.client import Client

from cdrflow.clickhouse.sql import table
from cdrflow.infra.config import Settings

from cdrflow.schemas.envelope import DeadLetter

SAMPLE_INTERVAL_S = 10.0
COLUMNS = ["at", "worker", "cdrs_in", "cdrs_stored", "duplicates", "dead_letters", "consumer_lag"]


def reason_key(reason: str) -> str:
    """A dead letter's reason without its per-record detail, so reasons group into few series."""
    return reason.split(" (", 1)[0][:80]


class HealthSampler:
    """Turns running totals into increments since the previous sample (a window is then a sum)."""

    def __init__(self, worker: str):
        self.worker = worker
        self.totals = {"cdrs_in": 0, "cdrs_stored": 0, "duplicates_skipped": 0}
        self.dead_letters: Counter[str] = Counter()

    def count_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        self.dead_letters.update(reason_key(letter.reason) for letter in letters)

    def sample(self, stats, consumer_lag: int | None, at_s: float | None = None) -> list:
        now = {name: getattr(stats, name) for name in self.totals}
        delta = {name: now[name] - self.totals[name] for name in now}
        self.totals = now
        letters, self.dead_letters = dict(self.dead_letters), Counter()
        at = datetime.fromtimestamp(time.time() if at_s is None else at_s, timezone.utc)
        return [at, self.worker, delta["cdrs_in"], delta["cdrs_stored"], delta["duplicates_skipped"], letters,
                consumer_lag]


def write_samples(client: Client, settings: Settings, rows: list[list]) -> None:
    client.insert(table("platform_health", settings), rows, column_names=COLUMNS)
