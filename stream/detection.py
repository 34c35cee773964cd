"""The detector's chain: judge → store → announce, each a small object with its ports injected
(stream/detector_agent.py wires them to Faust, ClickHouse and the incidents topic;
tests/test_stream_detection.py drives them with fakes).

- Judge: a partition's interconnects at an event time, against the baselines of the minutes
  judged (Baselines reads them ahead, per 10-minute slot); decisions are saved in the detector's
  tables at once.
- Store: the judgement's incident rows, in one insert.
- Announce: its events, to the incidents topic.

The judging loop never waits for ClickHouse. The worker has one ClickHouse thread and a take's
insert holds it 1-2 s; a loop that waited for it once per incident event (and for baselines)
would, with a dozen incidents open, stall for tens of seconds every closed minute, and see faults
that began meanwhile that much later. So store → announce runs as a background chain
(Publisher): each judgement's incidents are stored before they are announced, and judgements are
published in order.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

import orjson

from cdrflow.incidents.detector import MAX_CATCH_UP, evaluate
from cdrflow.incidents.partials import MINUTE_MS

log = logging.getLogger("cdrflow.detector")
SLOT_MS = 600_000           # baselines are read per 10 minutes of event time
# A slot's baselines are as of its start: their recent window ends 15 minutes before it, 5 minutes
# before the slot before begins. They are read once the watermark is 6 minutes into that slot, when
# the window's newest minute is 11 minutes old. interconnect_minute counts a call in the minute it
# began, once it has ended: read a minute after its window, a baseline would lack the calls of its
# last minutes still in progress, ~1 minute of answered calls (ASR 0.6-1.2 points low on the bench's
# traffic). After 11 minutes only calls longer than that can be missing (2.5 % of answered ones).
PREFETCH_AFTER_MS = 6 * MINUTE_MS

Event = tuple[bytes, dict[str, Any]]       # (key, incident event)


class States(Protocol):
    """The detector's per-key state (stream/detector_tables.py DetectorTables)."""

    def states(self) -> dict[str, dict[str, Any]]: ...

    def save(self, key: str, state: dict[str, Any], events: list, minutes_before: Any) -> None: ...


class Baselines:
    """Baselines per 10-minute slot of event time, each read once, as of the slot's start (see
    PREFETCH_AFTER_MS). load: slot start ms → "key" → baseline."""

    def __init__(self, load: Callable[[int], Awaitable[dict]]):
        self.load = load
        self.slots: dict[int, asyncio.Future] = {}     # slot → its baselines, read or reading

    def slot(self, slot: int) -> asyncio.Future:
        if slot not in self.slots:
            self.slots[slot] = asyncio.ensure_future(self.load(slot * SLOT_MS))
        return self.slots[slot]

    async def between(self, first_ms: int, last_ms: int) -> dict[int, dict]:
        """Baselines of every slot minutes in [first, last] fall in: a catch-up after downtime judges
        each minute against the baseline of its own time, not of the newest one."""
        loaded = {}
        for slot in range(first_ms // SLOT_MS, last_ms // SLOT_MS + 1):
            try:
                loaded[slot] = await self.slot(slot)
            except Exception:
                del self.slots[slot]     # read again at the next judgement
                raise
        for slot in [s for s in self.slots if s < first_ms // SLOT_MS - 1]:
            del self.slots[slot]
        return loaded

    def read_ahead(self, watermark_ms: int) -> None:
        if watermark_ms % SLOT_MS >= PREFETCH_AFTER_MS:
            self.slot(watermark_ms // SLOT_MS + 1)


@dataclass
class Judge:
    """Judges the interconnects whose partials a partition carries, up to an event time."""

    tables: States
    baselines: Baselines
    thresholds: Callable[[str], Any]        # interconnect → incidents.detector Thresholds

    async def __call__(self, partition: int, watermark_ms: int) -> list[Event]:
        items = [(k, st) for k, st in self.tables.states().items() if st.get("partition") == partition]
        first = min((st.get("judged") or watermark_ms for _, st in items), default=watermark_ms)
        loaded = await self.baselines.between(max(first, watermark_ms - MAX_CATCH_UP * MINUTE_MS), watermark_ms)
        events: list[Event] = []
        for key, key_state in items:
            minutes_before = list(key_state["minutes"])
            judged = evaluate(key, key_state, watermark_ms, lambda m, k=key: loaded.get(m // SLOT_MS, {}).get(k),
                              self.thresholds(key.split("|")[0]))
            self.tables.save(key, key_state, judged, minutes_before)
            events += [(key.encode(), e) for e in judged]
        self.baselines.read_ahead(watermark_ms)
        return events


@dataclass
class StoreIncidents:
    store: Callable[[list[dict[str, Any]]], Awaitable[None]]     # one insert of incident rows

    async def __call__(self, events: list[Event]) -> None:
        try:
            await self.store([e["incident"] for _, e in events])
        except Exception:  # noqa: BLE001 - the incident's next version is stored again; announce it anyway
            log.exception("storing %d incident events failed; sending them anyway", len(events))


@dataclass
class AnnounceIncidents:
    send: Callable[[bytes, bytes], Awaitable[Any]]      # (key, value) to the incidents topic
    stats: Any                                          # WorkerStats: incident_events

    async def __call__(self, events: list[Event]) -> None:
        try:
            for key, event in events:
                await self.send(key, orjson.dumps(event))
            self.stats.incident_events += len(events)
        except Exception:  # noqa: BLE001 - they are in ClickHouse; the topic gets the next versions
            log.exception("sending %d incident events failed", len(events))


class Publisher:
    """store → announce of each judgement, in order, in the background; then marks the partition's
    event time published (stats.watermark_ms: the oldest over the partitions that ticked)."""

    def __init__(self, store: StoreIncidents, announce: AnnounceIncidents, stats: Any):
        self.store, self.announce, self.stats = store, announce, stats
        self.published: dict[int, int] = {}      # partition → event time whose incidents are stored and sent
        self.last: asyncio.Future | None = None

    def publish(self, events: list[Event], partition: int, watermark_ms: int, partitions: Any) -> asyncio.Future:
        """partitions: those ticked so far (read when this judgement is published)."""
        self.last = asyncio.ensure_future(self._after(self.last, events, partition, watermark_ms, partitions))
        return self.last

    async def _after(self, previous: asyncio.Future | None, events: list[Event], partition: int, watermark_ms: int,
                     partitions: Any) -> None:
        if previous is not None:
            await previous
        if events:
            await self.store(events)
            await self.announce(events)
        self.published[partition] = watermark_ms
        self.stats.watermark_ms = min(self.published.get(p, 0) for p in partitions)
