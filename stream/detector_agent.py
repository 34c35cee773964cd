"""The detector agent: partials in, incident events out (the decisions are incidents/detector.py's).

Every ingest take sends its partials step by step (incidents/partials.py), each step followed by a
watermark tick to every partials partition. Each partition keeps its own event time (its
senders' ticks, less the allowed lateness), and every JUDGE_EVERY_MS of it the closed minutes
and the running one of the interconnects whose partials it carries are judged. A decision is
dated by that event time, or by the newest call of the interconnect it had seen if later.

The judging loop never waits for ClickHouse. The worker has one ClickHouse thread and a take's
insert holds it 1-2 s; a loop that waited for it once per incident event (and for baselines)
would, with a dozen incidents open, stall for tens of seconds every closed minute, and see faults
that began meanwhile that much later. So the next slot's baselines are read ahead, and each
judgement's incident rows go to ClickHouse in one insert from a background chain that then sends
its events to the incidents topic: stored before announced, and in order.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any, Awaitable, Callable

import faust
import orjson

from cdrflow.infra.config import Settings

from cdrflow.incidents.detector import MAX_CATCH_UP, evaluate
from cdrflow.stream.detector_tables import DetectorTables
from cdrflow.incidents.store import load_baselines, store_incidents
from cdrflow.incidents.partials import MINUTE_MS, STEP_MS
from cdrflow.stream.watermark import PartitionClock

log = logging.getLogger("cdrflow.detector")
JUDGE_EVERY_MS = STEP_MS    # event time between judgements: closed minutes and the running one
SLOT_MS = 600_000           # baselines are read per 10 minutes of event time
# A slot's baselines are as of its end, and their recent window ends 15 minutes before that: 5
# minutes into the slot before. Once the watermark is a minute past that, those minutes are stored.
PREFETCH_AFTER_MS = 6 * MINUTE_MS


def add_detector(app: faust.App, settings: Settings, stats: Any, partials_topic: faust.TopicT,
                 incidents_topic: faust.TopicT, on_writer_thread: Callable[..., Awaitable],
                 clickhouse: Callable[[], Any]) -> None:
    """Adds the detector's state tables and agent to the worker app. stats: WorkerStats
    (watermark_ms is published once the incidents judged up to it are stored and sent)."""
    tables = DetectorTables(app, settings.partitions)    # "interconnect|direction" → detector state
    # Each partials partition has its own event time: the oldest of its senders' newest ticks (an
    # ingest worker sends its partials, then a tick, to the same partition, so once the tick is
    # read the partition's partials up to it are in). Judged per partition, an interconnect waits
    # for its own partition only: Faust reads partitions unevenly, tens of seconds apart.
    clocks: dict[int, PartitionClock] = defaultdict(PartitionClock)
    judged: dict[int, int] = {}          # partition → event time judged
    published: dict[int, int] = {}       # partition → event time whose incidents are stored and sent
    publishing: asyncio.Future | None = None     # the newest judgement's store-and-send
    baselines: dict[int, asyncio.Future] = {}     # 10-minute slot of event time → its baselines, read or reading

    def slot_baselines(slot: int) -> asyncio.Future:
        if slot not in baselines:
            # as of the slot's end: its recent window still ends ≥ 5 minutes before any minute
            # of the slot, and a fresh interconnect gets a baseline 10 minutes sooner
            baselines[slot] = asyncio.ensure_future(
                on_writer_thread(lambda: load_baselines(clickhouse(), settings, (slot + 1) * SLOT_MS)))
        return baselines[slot]

    async def baselines_for(first_ms: int, last_ms: int) -> dict[int, dict]:
        """Baselines of every slot minutes in [first, last] fall in: a catch-up after downtime judges
        each minute against the baseline of its own time, not of the newest one."""
        loaded = {}
        for slot in range(first_ms // SLOT_MS, last_ms // SLOT_MS + 1):
            try:
                loaded[slot] = await slot_baselines(slot)
            except Exception:
                del baselines[slot]     # read again at the next judgement
                raise
        for slot in [s for s in baselines if s < first_ms // SLOT_MS - 1]:
            del baselines[slot]
        return loaded

    @app.agent(partials_topic)
    async def detect(stream):
        async for event in stream.events():
            message, partition = orjson.loads(event.value), event.message.partition
            key = message.get("key")
            if key is not None:
                tables.absorb(key, message, event.message.offset, partition)
            elif message.get("watermark_ms"):
                clocks[partition].read(message.get("from"), message["watermark_ms"], event.message.offset,
                                       time.monotonic())
                # event time less the allowed lateness: a minute is judged once its CDRs are all in
                newest = clocks[partition].watermark(time.monotonic(), lambda _sender: None)
                watermark = (newest or 0) - int(settings.detection_lateness_s * 1000)
                if watermark // JUDGE_EVERY_MS > judged.get(partition, 0) // JUDGE_EVERY_MS:
                    await judge(partition, watermark)
                    judged[partition] = watermark

    async def judge(partition: int, watermark_ms: int) -> None:
        """Judges the interconnects whose partials this partition carries."""
        nonlocal publishing
        items = [(k, st) for k, st in tables.states().items() if st.get("partition") == partition]
        first = min((st.get("judged") or watermark_ms for _, st in items), default=watermark_ms)
        loaded = await baselines_for(max(first, watermark_ms - MAX_CATCH_UP * MINUTE_MS), watermark_ms)
        events = []
        for key, key_state in items:
            minutes_before = list(key_state["minutes"])
            judged = evaluate(key, key_state, watermark_ms, lambda m, k=key: loaded.get(m // SLOT_MS, {}).get(k),
                              settings.thresholds(key.split("|")[0]))
            tables.save(key, key_state, judged, minutes_before)
            events += [(key.encode(), e) for e in judged]
        publishing = asyncio.ensure_future(publish(publishing, events, partition, watermark_ms))
        if watermark_ms % SLOT_MS >= PREFETCH_AFTER_MS:
            slot_baselines(watermark_ms // SLOT_MS + 1)

    async def publish(previous: asyncio.Future | None, events: list[tuple[bytes, dict]], partition: int,
                      watermark_ms: int) -> None:
        """Stores a judgement's incidents, then sends its events; after the previous judgement's.
        Never raises (failures are logged), so one failure does not stop the chain."""
        if previous is not None:
            await previous
        if events:
            try:
                incidents = [e["incident"] for _, e in events]
                await on_writer_thread(lambda: store_incidents(clickhouse(), settings, incidents))
            except Exception:  # noqa: BLE001 - the incident's next version is stored again; announce it anyway
                log.exception("storing %d incident events failed; sending them anyway", len(events))
            try:
                for raw_key, incident_event in events:
                    await incidents_topic.send(key=raw_key, value=orjson.dumps(incident_event))
                stats.incident_events += len(events)
            except Exception:  # noqa: BLE001 - they are in ClickHouse; the topic gets the next versions
                log.exception("sending %d incident events failed", len(events))
        published[partition] = watermark_ms
        stats.watermark_ms = min(published.get(p, 0) for p in clocks)    # every partition ticked so far
