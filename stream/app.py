"""The Faust app: ingest agent (decode → enrich → write → acknowledge) and its local endpoints.

Kafka offsets are committed only for events Faust has acked, and the ingest agent acks a take
(`noack_take`) only after ClickHouse stored it: a write that fails is retried with backoff, a crash
before the ack redelivers the take, and CdrWriter skips the cdr_ids already stored: at-least-once
delivery, exactly-once rows.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from collections import deque
from dataclasses import dataclass, field

import faust
import orjson
from faust.types import TP

from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import WORKER_GROUP, consumer_lag
from cdrflow.infra.kafka_security import faust_credentials
from cdrflow.numbering.inventory import build_checkpoint
from cdrflow.schemas.envelope import encode_dead_letter

from cdrflow.stream.decode import decode_messages
from cdrflow.stream.alarms_agent import add_alarms
from cdrflow.stream.detector_agent import add_detector
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.health import SAMPLE_INTERVAL_S, HealthSampler, write_samples
from cdrflow.stream.metrics import prometheus_text
from cdrflow.stream.query_page import add_query_page
from cdrflow.numbering.hits import DisconnectedHits, InventoryWatch, flush_every_s
from cdrflow.incidents.partials import partial_steps
from cdrflow.stream.retention import split_by_retention
from cdrflow.stream.sink import CdrWriter
from cdrflow.stream.watermark import PartitionClock

log = logging.getLogger("cdrflow.stream")
CHECKPOINT_CHECK_S = 600.0  # a new day's quarantine checkpoint is built within 10 minutes of midnight
WRITE_RETRY_MAX_S = 30.0


@dataclass
class WorkerStats:
    """Counters the live view and the benchmark read from /stats."""

    started_at: float = field(default_factory=time.time)
    messages: int = 0
    cdrs_in: int = 0
    cdrs_stored: int = 0
    duplicates_skipped: int = 0
    dead_letters: int = 0
    incident_events: int = 0
    alarm_events: int = 0
    watermark_ms: int = 0           # detector's event time judged: newest CDR end time less the lateness
    last_write_s: float = 0.0
    # failed writes of CDRs, retried until stored (write_until_stored); the error while they fail
    write_failures: int = 0
    write_error: str | None = None
    write_failing_since: float | None = None
    # produce → stored latency of recent messages (Kafka CreateTime to the end of the write), ms
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=2_000))

    def as_dict(self) -> dict:
        figures = {k: v for k, v in self.__dict__.items() if k != "latencies_ms"}
        ordered = sorted(self.latencies_ms)
        for name, q in (("latency_p50_ms", 0.50), ("latency_p95_ms", 0.95)):
            figures[name] = ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None
        figures["peak_rss_mb"] = peak_rss_mb()
        return figures


def first_line(exc: BaseException) -> str:
    """An error's first line, short enough for the live view (chdb's messages run to pages)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def peak_rss_mb() -> float | None:
    """The process's high-water mark of resident memory (VmHWM), from /proc."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def create_app(settings: Settings, bootstrap: str) -> faust.App:
    app = faust.App(
        WORKER_GROUP,
        broker=f"kafka://{bootstrap}",
        broker_credentials=faust_credentials(settings),
        datadir=str(settings.resolved_data_dir / "faust"),
        value_serializer="raw",
        key_serializer="raw",
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        broker_commit_interval=1.0,
        # A single local broker answers at once; short timeouts make group joins and failover fast.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        broker_rebalance_timeout=10.0,
        # per partition and fetch: four partitions stay inside one 50 MB fetch, so none waits a
        # round while the others run tens of seconds of event time ahead (16 MB starved one)
        consumer_max_fetch_size=4 * 1024 * 1024,
        web_bind=settings.worker_web_bind,
        web_port=settings.worker_web_port,
        web_in_thread=False,
    )
    cdr_topic = app.topic(settings.topic_cdr_batches, value_serializer="raw", partitions=settings.partitions)
    dead_letter_topic = app.topic(settings.topic_dead_letter, value_serializer="raw", partitions=1)
    partials_topic = app.topic(settings.topic_partials, value_serializer="raw", key_serializer="raw",
                               partitions=settings.partitions)
    incidents_topic = app.topic(settings.topic_incidents, value_serializer="raw", partitions=1)
    disconnected_topic = app.topic(settings.topic_disconnected_hits, value_serializer="raw", key_serializer="raw",
                                   partitions=1)
    enrich = Enricher(settings.home_region, settings.interconnects, settings.tenants)
    stats = WorkerStats()
    number_hits, inventory = DisconnectedHits(settings.disconnected_hit_interval_s), InventoryWatch(settings)
    worker_id = f"{socket.gethostname()}:{settings.worker_web_port}"
    health = HealthSampler(worker=worker_id)
    state: dict = {}

    def clickhouse():
        # Opened lazily inside the worker process, on the writer thread only (on_writer_thread):
        # an embedded chdb path belongs to one process, and a second open of it fails.
        # Kept only once its schema is this release's: the worker never migrates (`cdrflow migrate`
        # does, before workers start) and refuses a schema that lacks its migrations (SchemaMismatch).
        if "client" not in state:
            from cdrflow.clickhouse.client import connect
            from cdrflow.clickhouse.migrate import check_schema

            client = connect(settings)
            try:
                if newer := check_schema(client, settings):
                    log.warning("%s", newer)
            except Exception:
                client.close()
                raise
            state["writer"] = CdrWriter(client, settings)
            state["client"] = client
        return state["client"]

    writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-writer")
    decode_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")

    async def on_writer_thread(fn, *args):
        # The ClickHouse client is used from one thread only: queries queue behind inserts
        # instead of racing them on a shared chdb session, and never block the event loop.
        return await asyncio.get_running_loop().run_in_executor(writer_thread, fn, *args)

    @app.task
    async def open_clickhouse():
        await on_writer_thread(clickhouse)  # fail fast on a bad ClickHouse URL or a schema not migrated

    def prepare(messages: list[tuple[bytes, str]],
                partitions: list[int]) -> tuple[list[dict], list, dict[int, int], tuple]:
        """decode → enrich → partials: pure Python, on its own thread so it overlaps the previous
        take's write. Also the newest CDR end read from each partition: the event time the partials
        announce. The partials assume every CDR is fresh (finish recounts them after a redelivery)."""
        by_partition: dict[int, list[tuple[bytes, str]]] = {}
        for message, partition in zip(messages, partitions):
            by_partition.setdefault(partition, []).append(message)
        cdrs, dead_letters, newest = [], [], {}
        for partition, group in by_partition.items():
            decoded = decode_messages(group)
            cdrs += decoded.cdrs
            dead_letters += decoded.dead_letters
            if decoded.cdrs:
                newest[partition] = max(c["end_ms"] for c in decoded.cdrs)
        cdrs, expired = split_by_retention(cdrs, settings.retention_days, int(time.time() * 1000))
        enriched = enrich(cdrs)
        return enriched, dead_letters + expired, newest, partial_steps(enriched)

    def write(cdrs: list[dict]) -> list[dict]:
        inventory.refresh(clickhouse(), number_hits)     # reloads the disconnected set when it changed
        return state["writer"].write(cdrs)

    cdr_clock = PartitionClock()     # event time read from cdr.batches, per partition

    def highwater(topic: str, partition: int) -> int | None:
        """The offset after the partition's last record, as of the consumer's last fetch (None: unknown)."""
        try:
            return app.consumer.highwater(TP(topic, partition))
        except Exception:  # noqa: BLE001 - not assigned (any more) or not fetched yet
            return None

    def cdr_watermark() -> int | None:
        """cdr_clock's watermark over the CDR partitions this worker is assigned."""
        topic = settings.topic_cdr_batches
        assigned = [tp.partition for tp in app.consumer.assignment() if tp.topic == topic]
        # Faust's read offset: where a partition was sought to (its committed offset) or last read
        read_from = app.consumer._read_offset  # noqa: SLF001 - Faust offers no public position that is not async
        return cdr_clock.watermark(time.monotonic(), lambda p: highwater(topic, p), assigned,
                                   lambda p: read_from.get(TP(topic, p)))

    @app.agent(cdr_topic)
    async def ingest(stream):
        """Takes are prepared and written in a two-stage pipeline: while take N is written (chdb and
        the HTTP client release the GIL), take N+1 is decoded and enriched. One write is in flight
        at a time, so takes are written and acknowledged in order, each only after its rows are
        stored; the offsets Faust commits never pass an unwritten take."""
        writing: asyncio.Future | None = None
        async for events in stream.noack_take(settings.worker_take, within=settings.worker_within_s):
            messages = [(e.message.value, f"{e.message.topic}/{e.message.partition}@{e.message.offset}")
                        for e in events]
            t0 = time.perf_counter()
            cdrs, dead_letters, newest, partials = await asyncio.get_running_loop().run_in_executor(
                decode_thread, prepare, messages, [e.message.partition for e in events])
            stats.cdrs_in += len(cdrs)     # taken in; cdrs_stored counts them once written
            offsets = {e.message.partition: e.message.offset for e in events}    # a partition's events are in order
            newest = {p: (end_ms, offsets[p]) for p, end_ms in newest.items()}
            if writing is not None:
                await writing       # a failed write is retried inside; anything else re-raises, the take unacked
            writing = asyncio.ensure_future(finish(stream, events, cdrs, dead_letters, newest, partials, t0))
            writing.add_done_callback(report_failed_write)

    def report_failed_write(task: asyncio.Future) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("writing a take failed; it stays unacknowledged and is read again after a restart",
                      exc_info=task.exception())

    async def finish(stream, events: list, cdrs: list[dict], dead_letters: list,
                     newest: dict[int, tuple[int, int]], partials: list, t0: float) -> None:
        """write → dead letters, partials, disconnected hits → acknowledge. newest: partition →
        (newest CDR end, offset) read in this take; partials: partial_steps(cdrs)."""
        fresh = await write_until_stored(cdrs)
        for letter in dead_letters:
            await (await dead_letter_topic.send(value=encode_dead_letter(letter)))
        for partition, (end_ms, offset) in newest.items():
            cdr_clock.read(partition, end_ms, offset, time.monotonic())
        if len(fresh) < len(cdrs):      # some were stored before: partials of the fresh ones only
            partials = partial_steps(fresh)
        await send_partials(partials, cdr_watermark())
        await send_disconnected_hits(number_hits.observe(fresh, time.time()))
        for event in events:
            await stream.ack(event)
        stats.last_write_s = time.perf_counter() - t0
        stats.messages += len(events)
        stats.cdrs_stored += len(fresh)
        stats.duplicates_skipped += len(cdrs) - len(fresh)
        stats.dead_letters += len(dead_letters)
        health.count_dead_letters(dead_letters)
        now_ms = time.time() * 1000
        stats.latencies_ms.extend(now_ms - e.message.timestamp * 1000 for e in events)

    async def write_until_stored(cdrs: list[dict]) -> list[dict]:
        """The take's write, retried after 1, 2, 4 … 30 s while it fails (ClickHouse down, its disk
        full, a table gone), its take unacknowledged meanwhile: nothing is acked before it is
        stored, and the consumer does not read on past it (a failed take abandoned by a restarted
        agent would hold the group's commits back until the worker restarts). /stats shows the error."""
        failures = 0
        while True:
            try:
                fresh = await on_writer_thread(write, cdrs)
            except Exception as exc:  # noqa: BLE001 - any failure: the write is retried, the take kept
                failures += 1
                stats.write_failures += 1
                stats.write_error = f"{type(exc).__name__}: {first_line(exc)}"
                stats.write_failing_since = stats.write_failing_since or time.time()
                delay = min(WRITE_RETRY_MAX_S, 2.0 ** (failures - 1))
                log.warning("writing %d CDRs failed (%s); nothing acknowledged, retrying in %.0f s",
                            len(cdrs), stats.write_error, delay)
                await asyncio.sleep(delay)
                continue
            if failures:
                log.warning("writing %d CDRs succeeded after %d failures", len(cdrs), failures)
            stats.write_error = stats.write_failing_since = None
            return fresh

    async def send_partials(steps: list, watermark: int | None) -> None:
        """Per-minute partials of the CDRs this take stored, keyed by interconnect, step by step
        (partial_steps), each step followed by a watermark tick to every partition, so a detector
        whose interconnects went silent still sees time pass. A step's tick is its end, but never
        past the oldest of the CDR partitions' newest end times (cdr_clock): a take can hold one
        partition's next seconds before another's. Ticks name this worker: a partials partition's
        time is the oldest of its senders' (stream/detector_agent.py).
        Sent after the insert and before the ack: a crash in between loses these partials for
        detection only (ClickHouse has the rows; a redelivery finds them stored and sends nothing).
        watermark None: event time unknown (stream/watermark.py), partials go without ticks."""
        sent = []
        for messages, step_end in steps:
            sent += [await partials_topic.send(key=key.encode(), value=orjson.dumps(message))
                     for key, message in messages.items()]
            if watermark is None:       # a partition not read yet holds event time: partials only
                continue
            tick = orjson.dumps({"watermark_ms": min(step_end, watermark), "from": worker_id})
            sent += [await partials_topic.send(value=tick, partition=p) for p in range(settings.partitions)]
        await asyncio.gather(*sent)

    async def send_disconnected_hits(events: list[dict]) -> None:
        # keyed by number: one number's events stay in order
        await asyncio.gather(*[await disconnected_topic.send(key=e["number"].encode(), value=orjson.dumps(e))
                               for e in events])

    @app.timer(interval=flush_every_s(settings.disconnected_hit_interval_s))
    async def flush_disconnected_hits():
        """Calls held back by the rate limit go out once their number's interval has passed."""
        await send_disconnected_hits(number_hits.flush(time.time()))

    add_detector(app, settings, stats, partials_topic, incidents_topic, on_writer_thread, clickhouse)
    add_alarms(app, settings, stats, on_writer_thread, clickhouse)

    @app.timer(interval=CHECKPOINT_CHECK_S, on_leader=True)
    async def quarantine_checkpoint():
        """Today's quarantine checkpoint (release-candidate questions read it instead of 90 days of
        hits), built once a day by one worker; checking that it is there is one small query."""
        def build():
            return build_checkpoint(lambda sql, parameters: clickhouse().query(sql, parameters=parameters), settings)
        try:
            checkpoint = await on_writer_thread(build)
        except Exception:  # noqa: BLE001 - without a checkpoint the questions are exact, only slower
            log.exception("quarantine checkpoint not built; release candidates read the day table")
            return
        if checkpoint.built:
            log.info("quarantine checkpoint for %s: %d numbers in %.1f s", checkpoint.day, checkpoint.numbers,
                     checkpoint.build_s)

    @app.timer(interval=SAMPLE_INTERVAL_S)
    async def sample_health():
        """Counters and Kafka lag into platform_health; the lag lookup is blocking, so off the loop."""
        try:
            lag = await asyncio.get_running_loop().run_in_executor(
                None, consumer_lag, bootstrap, app.conf.id, settings.topic_cdr_batches, 5.0)
        except Exception:  # noqa: BLE001 - a sample without lag beats no sample
            lag = None
        row = health.sample(stats, lag)
        try:
            await on_writer_thread(lambda: write_samples(clickhouse(), settings, [row]))
        except Exception as exc:  # noqa: BLE001 - a lost health sample must not stop the worker
            log.warning("health sample not stored: %s", first_line(exc))

    @app.page("/stats")
    async def stats_view(web, request):
        return web.bytes(orjson.dumps(stats.as_dict()), content_type="application/json")

    @app.page("/metrics")
    async def metrics_view(web, request):
        return web.text(prometheus_text(stats.as_dict()), content_type="text/plain; version=0.0.4")

    ping = query("ping", settings)

    @app.page("/health")
    async def health_view(web, request):
        await on_writer_thread(lambda: clickhouse().query(ping))
        return web.bytes(b'{"ok":true}', content_type="application/json")

    @app.page("/ready")
    async def ready_view(web, request):
        """Ready once this worker owns partitions (group joined, no rebalance running) and ClickHouse answers;
        /health answers before the group join, which takes tens of seconds."""
        assigned = len(app.consumer.assignment()) if not app.rebalancing else 0
        try:
            await on_writer_thread(lambda: clickhouse().query(ping))
            clickhouse_ok = True
        except Exception:
            clickhouse_ok = False
        ready = assigned > 0 and clickhouse_ok
        body = orjson.dumps({"ready": ready, "partitions": assigned, "clickhouse": clickhouse_ok})
        return web.bytes(body, content_type="application/json", status=200 if ready else 503)

    add_query_page(app, settings, lambda sql, parameters: on_writer_thread(
        lambda: clickhouse().query(sql, parameters=parameters)))

    def close_clickhouse() -> None:
        if "client" in state:
            state.pop("client").close()

    # for tests that run the app in-process (closing frees the chdb path for the next test)
    app.cdrflow_stats, app.cdrflow_close_clickhouse = stats, close_clickhouse
    return app


def run_worker(settings: Settings, bootstrap: str, loglevel: str = "warning") -> None:
    from cdrflow.infra.runtime import clear_state, publish_state

    app = create_app(settings, bootstrap)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, workdir=str(settings.resolved_data_dir))
    if settings.embedded_clickhouse:
        publish_state(settings, "worker", port=settings.worker_web_port)
    try:
        worker.execute_from_commandline()
    finally:
        clear_state(settings, "worker")
