"""The Faust app, wiring only: topics, the ingest agent feeding stream/ingest.py's chain, the
detector agent, timers and the local endpoints.

Kafka offsets are committed only for events Faust has acked, and the chain acks a take
(`noack_take`) only after ClickHouse stored it (stream/ingest.py).
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import faust
import orjson
from faust.types import TP

from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import WORKER_GROUP, consumer_lag
from cdrflow.infra.kafka_security import faust_credentials
from cdrflow.numbering.inventory import build_checkpoint

from cdrflow.stream.alarms_agent import add_alarms
from cdrflow.stream.columns import Columns
from cdrflow.stream.detector_agent import add_detector
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.health import SAMPLE_INTERVAL_S, HealthSampler, write_samples
from cdrflow.stream.ingest import IngestPorts, Message, ingest_chain, parts_by_size
from cdrflow.stream.kafka_transport import Transport
from cdrflow.stream.metrics import prometheus_text
from cdrflow.stream.offset_guard import OffsetGuard
from cdrflow.stream.process_tuning import tune_worker_process
from cdrflow.stream.query_page import add_query_page
from cdrflow.numbering.hits import DisconnectedHits, InventoryWatch, flush_every_s
from cdrflow.stream.side_outputs import SideOutputs
from cdrflow.stream.sink import CdrWriter
from cdrflow.stream.worker_stats import WorkerStats, first_line

log = logging.getLogger("cdrflow.stream")
CHECKPOINT_CHECK_S = 600.0  # a new day's quarantine checkpoint is built within 10 minutes of midnight
STOP_JOIN_S = 30.0          # on stop, the take in flight gets this long to be stored and acknowledged
# The ingest stream buffers this many takes of envelopes, not Faust's default 4,096 messages: a
# worker behind a flat-out producer held ~2,600 of them (~750 MB) besides its takes in flight,
# towards the chart's 2 GiB limit. Faust pauses a partition's fetch at 80 % of the buffer and
# resumes it at 40 % (after a second's sleep when every partition is paused); at four takes the
# 40 % still holds a take. Bounded, a worker draining a backlog runs 8-20 % slower (more CPU per
# CDR; docs/benchmarks.md, 2026-12-05, latest). Set on the topic, which the agent's stream clones:
# App.topic() takes a maxsize but does not pass it on (faust-streaming 0.15.3).
STREAM_BUFFER_TAKES = 4


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
        # per partition and fetch, Kafka's default, in compressed bytes: ~13 envelopes of 500 CDRs.
        # At 4 MB a partition fetched again was read to its head, a backlog's worth of event time
        # ahead of one still on its previous fetch, and the detector judged with those calls
        # (docs/benchmarks.md, 2026-12-05, latest); at 16 MB four partitions overflowed the 50 MB
        # fetch and one waited a round.
        consumer_max_fetch_size=1024 * 1024,
        web_bind=settings.worker_web_bind,
        web_port=settings.worker_web_port,
        web_in_thread=False,
    )
    app.transport = Transport(app.conf.broker_consumer, app)     # before any topic: its fetch wait
    cdr_topic = app.topic(settings.topic_cdr_batches, value_serializer="raw", partitions=settings.partitions)
    cdr_topic.maxsize = STREAM_BUFFER_TAKES * settings.worker_take
    partials_topic = app.topic(settings.topic_partials, value_serializer="raw", key_serializer="raw",
                               partitions=settings.partitions)
    incidents_topic = app.topic(settings.topic_incidents, value_serializer="raw", partitions=1)
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

    def write(cdrs: Columns) -> Columns:
        inventory.refresh(clickhouse(), number_hits)     # reloads the disconnected set when it changed
        return state["writer"].write_columns(cdrs)

    def cdr_tp(partition: int) -> TP:
        return TP(settings.topic_cdr_batches, partition)

    def highwater(partition: int) -> int | None:
        """The offset after the partition's last record, as of the consumer's last fetch (None: unknown)."""
        try:
            return app.consumer.highwater(cdr_tp(partition))
        except Exception:  # noqa: BLE001 - not assigned (any more) or not fetched yet
            return None

    side_outputs = SideOutputs(bootstrap, settings)     # a take's records at once, delivered before its ack

    async def send_dead_letters(letters: list[bytes]) -> None:
        await side_outputs.send(settings.topic_dead_letter, [(None, letter, None) for letter in letters])

    async def ack(take: tuple) -> None:
        stream, events = take      # the agent's stream acknowledges its events
        for event in events:
            await stream.ack(event)

    ports = IngestPorts(
        write=lambda cdrs: on_writer_thread(write, cdrs),
        send_dead_letters=send_dead_letters,
        send_partials=lambda records: side_outputs.send(settings.topic_partials, records),
        send_hits=lambda records: side_outputs.send(settings.topic_disconnected_hits, records),
        ack=ack,
        run_prepare=lambda fn, *args: asyncio.get_running_loop().run_in_executor(decode_thread, fn, *args),
        highwater=highwater,
        assigned=lambda: [tp.partition for tp in app.consumer.assignment() if tp.topic == settings.topic_cdr_batches],
        # Faust's read offset: where a partition was sought to (its committed offset) or last read
        start=lambda p: app.consumer._read_offset.get(cdr_tp(p)))  # noqa: SLF001
    chain = ingest_chain(ports, enrich, stats, number_hits, retention_days=settings.retention_days,
                         partitions=settings.partitions, worker_id=worker_id,
                         count_dead_letters=health.count_dead_letters)

    # Faust's committed offset of a partition, as sought to on assignment (None: the group has none)
    guard = OffsetGuard(committed=lambda p: app.consumer._committed_offset.get(cdr_tp(p)))  # noqa: SLF001

    @app.on_partitions_assigned.connect
    async def on_assigned(sender, assigned, **kwargs):
        guard.assigned([tp.partition for tp in assigned if tp.topic == settings.topic_cdr_batches])

    async def admitted(events: list) -> list:
        """The take's events at contiguous offsets (stream/offset_guard.py); strays are let go
        unacknowledged and their partitions sought back."""
        verdict = guard.admit([(e.message.partition, e.message.offset) for e in events])
        if verdict.rewind:
            kept = set(verdict.kept)
            for index, event in enumerate(events):
                if index not in kept:       # never acked: not tracked as in flight either
                    event.message.acked = True
                    app.consumer._unacked_messages.discard(event.message)  # noqa: SLF001
            for partition, offset in verdict.rewind.items():
                await app.consumer.seek(cdr_tp(partition), offset)
        return [events[i] for i in verdict.kept]

    take_bytes = int(settings.worker_take_mb * 2**20)

    @app.agent(cdr_topic)
    async def ingest(stream):
        """Takes go through the chain (stream/ingest.py), in about equal parts of at most
        worker_take_mb of envelopes; the write in flight is joined on stop."""
        try:
            async for taken in stream.noack_take(settings.worker_take, within=settings.worker_within_s):
                events = await admitted(taken)
                for part in parts_by_size(events, take_bytes, lambda e: len(e.message.value or b"")):
                    messages = [Message(e.message.value, e.message.topic, e.message.partition, e.message.offset,
                                        e.message.timestamp) for e in part]
                    for e in part:      # held until the ack, which needs the offsets only: Prepare frees the bytes
                        e.value = e.message.value = None
                    await chain.take(messages, (stream, part))
        finally:
            await chain.join(timeout_s=STOP_JOIN_S)

    @app.timer(interval=flush_every_s(settings.disconnected_hit_interval_s))
    async def flush_disconnected_hits():
        """Calls held back by the rate limit go out once their number's interval has passed."""
        await chain.announce.send_hits(number_hits.flush(time.time()))

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
        since = request.query.get("since_ms")
        try:
            figures = stats.as_dict(float(since) if since else None)
        except ValueError:
            return web.bytes(orjson.dumps({"error": f"since_ms is not a number: {since!r}"}), status=400,
                             content_type="application/json")
        return web.bytes(orjson.dumps(figures), content_type="application/json")

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
    tune_worker_process()
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, workdir=str(settings.resolved_data_dir))
    # No terminal spinner: its log handler sets the root logger to DEBUG, so every aiokafka and
    # Faust debug line was built and handled (~2.5% of the worker's GIL time under load).
    worker.spinner = None
    if settings.embedded_clickhouse:
        publish_state(settings, "worker", port=settings.worker_web_port)
    try:
        worker.execute_from_commandline()
    finally:
        clear_state(settings, "worker")
