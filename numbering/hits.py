"""Hits to disconnected numbers → `number.hits.disconnected`, rate-limited per number, for ops who
watch for dirty numbers. ClickHouse counts every hit anyway (number_hits_daily); this topic is the
live nudge, so it may be coarse but must not lose calls: an event carries every call since the
number's previous event, and calls held back by the rate limit go out with a later event or flush.

Which numbers are disconnected comes from the inventory's current status, loaded on the writer
thread and reloaded only when the inventory changed (or a future-dated status took effect). The set
holds E.164 strings, ~100 bytes a number: fine up to a few million numbers (~300 MB at 3 M).

Rate limiting is per worker and by wall-clock time: with several workers a number can get one event
per worker per interval (the counts still add up). Held counts live in memory only: a crash loses at
most one interval of them for this topic, never for ClickHouse.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings

log = logging.getLogger("cdrflow.numbering.hits")
RELOAD_CHECK_S = 60.0   # how often the inventory is checked for changes


def flush_every_s(interval_s: float) -> float:
    """Timer period for sending held counts: a small share of the interval, between 1 s and 30 s."""
    return max(1.0, min(30.0, interval_s / 10))


@dataclass
class Held:
    calls: int = 0
    answered: int = 0
    first_call_ms: int = 0
    last_call_ms: int = 0


@dataclass
class DisconnectedHits:
    """Pure state: the disconnected set, when each number last had an event, and counts held back."""

    interval_s: float
    numbers: frozenset[str] = frozenset()
    last_event: dict[str, float] = field(default_factory=dict)   # number → wall-clock time of its last event
    held: dict[str, Held] = field(default_factory=dict)

    def observe(self, cdrs: Iterable[dict[str, Any]], now: float) -> list[dict[str, Any]]:
        """Counts the stored CDRs' calls to disconnected numbers; returns the events now due."""
        touched = set()
        for cdr in cdrs:
            number = cdr.get("called_e164")
            if number not in self.numbers or cdr.get("record_kind") == "start":   # a 'start' is not a call
                continue
            held = self.held.get(number)
            if held is None:
                held = self.held[number] = Held(first_call_ms=cdr["start_ms"], last_call_ms=cdr["start_ms"])
            held.calls += 1
            held.answered += cdr.get("answer_ms") is not None
            held.first_call_ms = min(held.first_call_ms, cdr["start_ms"])
            held.last_call_ms = max(held.last_call_ms, cdr["start_ms"])
            touched.add(number)
        return self._due(touched, now)

    def flush(self, now: float) -> list[dict[str, Any]]:
        """Events for held counts whose interval has passed, and forgets numbers quiet for an interval."""
        events = self._due(list(self.held), now)
        for number in [n for n, at in self.last_event.items() if now - at >= self.interval_s and n not in self.held]:
            del self.last_event[number]
        return events

    def _due(self, numbers: Iterable[str], now: float) -> list[dict[str, Any]]:
        events = []
        for number in sorted(numbers):
            last = self.last_event.get(number)
            if last is not None and now - last < self.interval_s:
                continue
            held = self.held.pop(number)
            self.last_event[number] = now
            events.append({"number": number, "calls": held.calls, "answered": held.answered,
                           "first_call_ms": held.first_call_ms, "last_call_ms": held.last_call_ms,
                           "previous_event_ms": None if last is None else int(last * 1000),
                           "sent_ms": int(now * 1000)})
        return events


@dataclass
class InventoryWatch:
    """Reloads the disconnected set when the inventory's fingerprint changes; runs on the writer
    thread (the worker's only ClickHouse client). The fingerprint query reads number_blocks (one row
    per imported block), so the check stays cheap however many numbers the blocks expand to."""

    settings: Settings
    fingerprint: tuple | None = None
    checked_at: float = float("-inf")

    def refresh(self, client, hits: DisconnectedHits, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if now - self.checked_at < RELOAD_CHECK_S:
            return False
        self.checked_at = now
        try:
            fingerprint = tuple(client.query(query("inventory_fingerprint", self.settings)).result_rows[0])
            if fingerprint == self.fingerprint:
                return False
            rows = client.query(query("disconnected_numbers", self.settings)).result_rows
        except Exception:   # noqa: BLE001 - runs inside ingest: a stale set beats a stalled pipeline
            log.exception("disconnected numbers not reloaded; keeping the previous set")
            return False
        hits.numbers = frozenset(row[0] for row in rows)
        self.fingerprint = fingerprint
        return True
