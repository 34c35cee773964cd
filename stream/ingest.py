"""The ingest chain: a take of Kafka messages → prepare → store → announce → acknowledge.

Each step is a small object with one job; the ports it talks through (the ClickHouse write, the
topic senders, the acknowledgement, the clocks) are injected, so tests drive the chain with fakes
(tests/test_stream_ingest.py) and stream/app.py only wires Faust to it.

- Prepare: decode (the strict wire check) → retention → enrich → partials, on the take's columns;
  pure Python, run off the event loop so it overlaps the previous take's write.
- Store: the write, retried after 1, 2, 4 … 30 s while it fails; nothing later runs before it.
- Announce: the take's dead letters in one batch, the partials of the rows it stored (step by
  step, each followed by a watermark tick), disconnected-number hits.
- Acknowledge: the take's Kafka events, then the counters.

One take is stored at a time, so takes are stored and acknowledged in order, each only after its
rows are stored: the offsets Faust commits never pass an unwritten take. A crash before the ack
redelivers the take, and the writer skips the cdr_ids already stored: at-least-once delivery,
exactly-once rows. join() waits for the take in flight (on stop).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence, TypeVar

import orjson

from cdrflow.incidents.partials import MINUTE_MS, STEP_MS, partial_steps_of
from cdrflow.numbering.hits import DisconnectedHits
from cdrflow.schemas.envelope import DeadLetter, encode_dead_letter

from cdrflow.stream.columns import Columns
from cdrflow.stream.decode import decode_messages
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.retention import split_by_retention
from cdrflow.stream.watermark import PartitionClock
from cdrflow.stream.worker_stats import StepTimes, WorkerStats, first_line

log = logging.getLogger("cdrflow.stream")
WRITE_RETRY_MAX_S = 30.0

T = TypeVar("T")
Partials = list[tuple[dict[str, dict[str, Any]], int]]      # partial_steps_of's answer
Record = tuple[bytes | None, bytes, int | None]             # (key, value, partition) for a topic


@dataclass(slots=True)
class Message:
    """One Kafka message of cdr.batches, as the chain needs it. Prepare empties value once the
    envelope is decoded (see there)."""

    value: bytes
    topic: str
    partition: int
    offset: int
    timestamp_s: float      # Kafka CreateTime

    @property
    def position(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


@dataclass
class Prepared:
    """A take after Prepare: what the later steps need."""

    messages: list[Message]
    cdrs: Columns
    dead_letters: list[DeadLetter]
    newest: dict[int, tuple[int, int]]     # partition → (newest CDR end read, its last offset)
    partials: Partials                     # of every CDR, as if all were fresh


async def run_inline(fn: Callable[..., Prepared], *args: Any) -> Prepared:
    return fn(*args)


@dataclass
class IngestPorts:
    """What the chain talks to. write and the senders are awaited; each sender gets a take's
    records at once."""

    write: Callable[[Columns], Awaitable[Columns]]      # stores the CDRs not stored yet; returns those
    send_dead_letters: Callable[[list[bytes]], Awaitable[None]]
    send_partials: Callable[[list[Record]], Awaitable[None]]
    send_hits: Callable[[list[Record]], Awaitable[None]]
    ack: Callable[[Any], Awaitable[None]]             # acknowledges a take (its token: the agent's stream, events)
    run_prepare: Callable[..., Awaitable[Prepared]] = run_inline     # (fn, *args), off the event loop
    highwater: Callable[[int], int | None] = lambda partition: None   # cdr.batches offset after the last record
    assigned: Callable[[], list[int]] = lambda: []          # the cdr.batches partitions this worker reads
    start: Callable[[int], int | None] = lambda partition: None   # the offset it reads a partition from
    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class Prepare:
    """decode → retention → enrich → partials of a take; times each in StepTimes."""

    def __init__(self, enrich: Enricher, retention_days: int, times: StepTimes, wall: Callable[[], float]):
        self.enrich, self.retention_days, self.times, self.wall = enrich, retention_days, times, wall

    def __call__(self, messages: list[Message]) -> Prepared:
        t0 = time.perf_counter()
        decoded = decode_messages((m.value, m.position) for m in messages)
        # The envelopes are not needed past here. A take holds its messages until its ack, after
        # its write and announce: ~80 MB of envelopes per 100,000 CDRs, held twice more over a
        # worker that is behind (the caller drops the consumer's references: stream/app.py).
        for m in messages:
            m.value = b""
        cdrs, ends, newest_end, at = decoded.cdrs, decoded.cdrs["end_ms"], {}, 0
        for message, count in zip(messages, decoded.counts):
            if count:
                end = max(ends[at:at + count])
                newest_end[message.partition] = max(end, newest_end.get(message.partition, end))
            at += count
        offsets = {m.partition: m.offset for m in messages}     # a partition's messages are in order
        newest = {p: (end, offsets[p]) for p, end in newest_end.items()}
        t1 = time.perf_counter()
        cdrs, expired = split_by_retention(cdrs, self.retention_days, int(self.wall() * 1000))
        t2 = time.perf_counter()
        self.enrich.columns(cdrs)
        t3 = time.perf_counter()
        partials = partial_steps_of(cdrs.data)
        t4 = time.perf_counter()
        for step, seconds in (("decode", t1 - t0), ("retention", t2 - t1), ("enrich", t3 - t2), ("partials", t4 - t3)):
            self.times.add(step, seconds, len(decoded.cdrs))
        return Prepared(messages, cdrs, decoded.dead_letters + expired, newest, partials)


class Store:
    """The take's write, retried after 1, 2, 4 … 30 s while it fails (ClickHouse down, its disk
    full, a table gone), its take unacknowledged meanwhile: nothing is acked before it is stored,
    and the consumer does not read on past it (a failed take abandoned by a restarted agent would
    hold the group's commits back until the worker restarts). /stats shows the error."""

    def __init__(self, write: Callable[[Columns], Awaitable[Columns]], stats: WorkerStats,
                 sleep: Callable[[float], Awaitable[None]], wall: Callable[[], float]):
        self.write, self.stats, self.sleep, self.wall = write, stats, sleep, wall

    async def __call__(self, cdrs: Columns) -> Columns:
        failures = 0
        while True:
            try:
                fresh = await self.write(cdrs)
            except Exception as exc:  # noqa: BLE001 - any failure: the write is retried, the take kept
                failures += 1
                self.stats.write_failures += 1
                self.stats.write_error = f"{type(exc).__name__}: {first_line(exc)}"
                self.stats.write_failing_since = self.stats.write_failing_since or self.wall()
                delay = min(WRITE_RETRY_MAX_S, 2.0 ** (failures - 1))
                log.warning("writing %d CDRs failed (%s); nothing acknowledged, retrying in %.0f s",
                            len(cdrs), self.stats.write_error, delay)
                await self.sleep(delay)
                continue
            if failures:
                log.warning("writing %d CDRs succeeded after %d failures", len(cdrs), failures)
            self.stats.write_error = self.stats.write_failing_since = None
            return fresh


class Announce:
    """After the write: dead letters, partials with watermark ticks, disconnected-number hits.

    Partials go out per STEP_MS of event time (partial_steps_of), each step followed by a
    watermark tick to every partials partition, so a detector whose interconnects went silent
    still sees time pass. A step's tick is its end, but never past the oldest of the CDR
    partitions' newest end times (PartitionClock): a take can hold one partition's next seconds
    before another's. Every STEP_MS boundary passed gets its own tick, the detector judges at each
    (ticks_through): a take cut short just below a boundary would otherwise have the next take's
    first tick land past the boundary after it, and a judgement skipped (a fault seen 10 s later).
    Ticks name this worker: a partials partition's time is the oldest of its
    senders' (stream/detector_agent.py). Sent after the insert and before the ack: a crash in
    between loses these partials for detection only (ClickHouse has the rows; a redelivery finds
    them stored and sends nothing). While an assigned partition not read yet holds event time
    (stream/watermark.py), partials go without ticks."""

    def __init__(self, ports: IngestPorts, hits: DisconnectedHits, partitions: int, worker_id: str):
        self.ports, self.hits, self.partitions, self.worker_id = ports, hits, partitions, worker_id
        self.clock = PartitionClock()     # event time read from cdr.batches, per partition
        self.ticked: int | None = None    # the newest tick sent

    async def __call__(self, take: Prepared, fresh: Columns) -> None:
        ports = self.ports
        if take.dead_letters:
            await ports.send_dead_letters([encode_dead_letter(letter) for letter in take.dead_letters])
        now = ports.monotonic()
        for partition, (end_ms, offset) in take.newest.items():
            self.clock.read(partition, end_ms, offset, now)
        # some rows were stored before (a redelivery): the partials of the fresh ones only
        partials = take.partials if len(fresh) == len(take.cdrs) else partial_steps_of(fresh.data)
        watermark = self.clock.watermark(now, ports.highwater, ports.assigned(), ports.start)
        await ports.send_partials(self.partial_records(partials, watermark))
        await self.send_hits(self.hits.observe(self.calls_to_disconnected(fresh), ports.wall()))

    def partial_records(self, steps: Partials, watermark: int | None) -> list[Record]:
        records: list[Record] = []
        for messages, step_end in steps:
            start = None if watermark is None else min(step_end - STEP_MS, watermark)
            if start is not None and self.ticked is not None and start > self.ticked:   # boundaries before its calls
                records += self.ticks_through(start)
            records += [(key.encode(), orjson.dumps(message), None) for key, message in messages.items()]
            if watermark is not None:
                records += self.ticks_through(min(step_end, watermark))
        return records

    def ticks_through(self, until_ms: int) -> list[Record]:
        """Ticks at the STEP_MS boundaries after the newest tick sent, up to until_ms (a minute of
        them at most: a longer silence is judged by closed minutes), and at until_ms. One not newer
        than the newest sent goes out too: it keeps this worker among the partition's live senders
        (stream/watermark.py), so its newest tick still holds the partition's time back."""
        if self.ticked is None or until_ms <= self.ticked:
            first = until_ms
        else:
            first = max(self.ticked // STEP_MS * STEP_MS + STEP_MS, until_ms // STEP_MS * STEP_MS - MINUTE_MS + STEP_MS)
        times = [*range(first, until_ms, STEP_MS), until_ms]
        self.ticked = until_ms if self.ticked is None else max(self.ticked, until_ms)
        ticks = [orjson.dumps({"watermark_ms": t, "from": self.worker_id}) for t in times]
        return [(None, tick, p) for tick in ticks for p in range(self.partitions)]

    def calls_to_disconnected(self, cdrs: Columns) -> list[dict[str, Any]]:
        numbers = self.hits.numbers
        if not numbers:
            return []
        return cdrs.rows([i for i, number in enumerate(cdrs["called_e164"]) if number in numbers])

    async def send_hits(self, events: list[dict[str, Any]]) -> None:
        if events:      # keyed by number: one number's events stay in order
            await self.ports.send_hits([(e["number"].encode(), orjson.dumps(e), None) for e in events])


class Acknowledge:
    """Acknowledges the take's events, then counts it."""

    def __init__(self, ack: Callable[[Any], Awaitable[None]], stats: WorkerStats, wall: Callable[[], float],
                 count_dead_letters: Callable[[list[DeadLetter]], None]):
        self.ack, self.stats, self.wall, self.count_dead_letters = ack, stats, wall, count_dead_letters

    async def __call__(self, take: Prepared, token: Any, fresh: Columns, started: float) -> None:
        await self.ack(token)
        stats = self.stats
        stats.last_write_s = time.perf_counter() - started
        stats.messages += len(take.messages)
        stats.takes += 1
        stats.cdrs_stored += len(fresh)
        stats.duplicates_skipped += len(take.cdrs) - len(fresh)
        stats.dead_letters += len(take.dead_letters)
        self.count_dead_letters(take.dead_letters)
        stats.record_latencies([m.timestamp_s * 1000 for m in take.messages], self.wall() * 1000)


@dataclass
class IngestChain:
    """Runs takes through the steps, three at a time: take N+2 is prepared while take N+1 is
    written and take N announced and acknowledged. One write at a time; announce and ack in take
    order, each take's after its own write and after the take before it: no ack precedes its
    write, none overtakes another, and a failure stops every take after it unacknowledged.

    take() returns once its take's write has started, so Faust's take buffer, which does not fill
    while its caller runs, gathers the next take during the write. Returning earlier, during the
    prepare, was tried: more takes in flight cost the worker ~10 % of its CDR/s for no steadier
    latency (docs/benchmarks.md, 2026-12-05)."""

    prepare: Prepare
    store: Store
    announce: Announce
    acknowledge: Acknowledge
    ports: IngestPorts
    stats: WorkerStats
    _storing: asyncio.Future | None = field(default=None, init=False)      # the write in flight
    _finishing: asyncio.Future | None = field(default=None, init=False)    # the newest take's whole chain

    async def take(self, messages: list[Message], token: Any) -> None:
        """Prepares the take, waits for the previous write (a failure there re-raises, its take
        unacked), then starts this one's store → announce → acknowledge."""
        started, marks = time.perf_counter(), {"taken": self.now_ms()}
        take = await self.ports.run_prepare(self.prepare, messages)
        marks["prepared"] = self.now_ms()
        self.stats.cdrs_in += len(take.cdrs)     # taken in; cdrs_stored counts them once written
        if self._storing is not None:
            await self._storing
        self._storing = asyncio.ensure_future(self.timed_store(take, marks))
        self._finishing = asyncio.ensure_future(
            self.finish(take, token, started, marks, self._storing, self._finishing))
        self._finishing.add_done_callback(_report_failure)

    def now_ms(self) -> float:
        return self.ports.wall() * 1000

    async def timed_store(self, take: Prepared, marks: dict[str, float]) -> Columns:
        t0, marks["write_started"] = time.perf_counter(), self.now_ms()
        fresh = await self.store(take.cdrs)
        self.stats.steps.add("write", time.perf_counter() - t0, len(take.cdrs))
        marks["stored"] = self.now_ms()
        return fresh

    async def finish(self, take: Prepared, token: Any, started: float, marks: dict[str, float],
                     storing: asyncio.Future, previous: asyncio.Future | None) -> None:
        fresh = await storing
        if previous is not None:
            await previous          # the take before is announced and acknowledged first
        times, n = self.stats.steps, len(take.cdrs)
        t1 = time.perf_counter()
        await self.announce(take, fresh)
        t2, marks["announced"] = time.perf_counter(), self.now_ms()
        await self.acknowledge(take, token, fresh, started)
        marks["acked"] = self.now_ms()
        times.add("announce", t2 - t1, n)
        times.add("acknowledge", time.perf_counter() - t2, n)
        if take.messages:
            self.stats.record_take([m.timestamp_s * 1000 for m in take.messages], marks)

    async def join(self, timeout_s: float | None = None) -> None:
        """Waits for every take in flight (stored, announced, acknowledged); re-raises a failure.
        Past timeout_s (on stop, while ClickHouse fails) they are cancelled, unacknowledged."""
        finishing, self._finishing, self._storing = self._finishing, None, None
        if finishing is not None:
            await asyncio.wait_for(finishing, timeout_s)


def parts_by_size(items: Sequence[T], limit: int, size: Callable[[T], int]) -> list[list[T]]:
    """items, in order, cut into as few runs of about equal size as keep each within limit (an item
    bigger than limit alone). A Faust take counts messages, and a message is a switch's envelope of
    1 to 500 CDRs: the worker takes at most worker_take_mb of them into the chain at once, so three
    takes in flight hold ~1.4 KB of Python per CDR of a bounded number of CDRs, whatever the
    envelopes' size. Equal parts, not greedy ones: a take just over the limit goes as two halves,
    not as a full part and a sliver that costs an insert of its own."""
    sizes = [size(item) for item in items]
    total = sum(sizes)
    limit = max(1, limit)       # a worker_take_mb below a byte: each envelope alone
    shares = max(1, -(-total // limit))
    parts: list[list[T]] = []
    used = done = 0
    share = -1
    for item, n in zip(items, sizes):
        due = (2 * done + n) * shares // (2 * total) if total else 0   # the share holding the item's middle
        if due > share or used + n > limit:
            parts.append([])
            used, share = 0, due        # due never falls: done only grows
        parts[-1].append(item)
        used += n
        done += n
    return parts


def _report_failure(task: asyncio.Future) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("writing a take failed; it stays unacknowledged and is read again after a restart",
                  exc_info=task.exception())


def ingest_chain(ports: IngestPorts, enrich: Enricher, stats: WorkerStats, hits: DisconnectedHits, *,
                 retention_days: int, partitions: int, worker_id: str,
                 count_dead_letters: Callable[[list[DeadLetter]], None] = lambda letters: None) -> IngestChain:
    return IngestChain(
        prepare=Prepare(enrich, retention_days, stats.steps, ports.wall),
        store=Store(ports.write, stats, ports.sleep, ports.wall),
        announce=Announce(ports, hits, partitions, worker_id),
        acknowledge=Acknowledge(ports.ack, stats, ports.wall, count_dead_letters),
        ports=ports, stats=stats)
