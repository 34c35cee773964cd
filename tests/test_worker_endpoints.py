"""The worker's endpoints: those the chart's probes and ServiceMonitor use, on a real worker process, and
/query, served only on a loopback bind."""
from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request

import orjson
import pytest

from cdrflow.clickhouse.client import connect, run_query
from cdrflow.clickhouse.migrate import migrate
from cdrflow.infra.config import Settings
from cdrflow.infra.local_broker import free_port
from cdrflow.infra.runtime import QueryError, clear_state, publish_state
from cdrflow.stream.app import STREAM_BUFFER_TAKES, create_app
from cdrflow.stream.metrics import prometheus_text
from cdrflow.stream.query_page import is_loopback, query_refusal
from cdrflow.stream.kafka_transport import FETCH_MAX_WAIT_MS
from cdrflow.stream.worker_stats import TAKE_MARKS, WorkerStats


def get(settings, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.worker_web_port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_latency_percentiles_of_the_messages_produced_since_a_time():
    stats = WorkerStats()
    stats.record_latencies([1_000.0] * 10, now_ms=9_000.0)            # a backlog: 8 s each
    stats.record_latencies([10_000.0 + i for i in range(20)], now_ms=10_100.0)   # 100 … 81 ms
    everything = stats.as_dict()
    assert everything["latency_p95_ms"] == 8_000 and everything["latency_p50_ms"] == 96
    since = stats.as_dict(since_ms=10_000)
    assert since["latency_p50_ms"] == 91 and since["latency_p95_ms"] == 100
    assert stats.as_dict(since_ms=20_000)["latency_p95_ms"] is None


def test_latency_stages_split_each_take_between_its_marks():
    stats = WorkerStats()
    marks = dict(zip(TAKE_MARKS, (1_400.0, 1_600.0, 1_650.0, 1_900.0, 1_950.0, 1_960.0)))
    stats.record_take([1_000.0, 1_200.0], marks)              # its oldest message produced at 1,000 ms
    stats.record_take([5_000.0], {mark: at + 4_000 for mark, at in marks.items()})
    stages = stats.as_dict(since_ms=2_000)["latency_stages_ms"]
    assert {mark: ms["p50"] for mark, ms in stages.items()} == {
        "taken": 400, "prepared": 200, "write_started": 50, "stored": 250, "announced": 50, "acked": 10}
    assert stats.as_dict(since_ms=9_000)["latency_stages_ms"] == {}


def test_the_worker_consumer_waits_briefly_for_records():
    """faust-streaming fixes the fetch wait at 1,500 ms; the local broker answers at its end."""
    app = create_app(Settings(), bootstrap="127.0.0.1:9")

    async def fetch_wait_ms():
        consumer = app.consumer._thread._create_worker_consumer(app.transport)  # noqa: SLF001
        try:
            return consumer._fetch_max_wait_ms  # noqa: SLF001
        finally:
            await consumer.stop()
    assert asyncio.run(fetch_wait_ms()) == FETCH_MAX_WAIT_MS < 1_500


def test_the_ingest_stream_buffers_a_few_takes_of_envelopes_not_fausts_default():
    """The queue the ingest agent's stream reads (its topic's clone) holds a few takes. App.topic()
    drops its maxsize argument, and the default 4,096 let a worker behind a flat-out producer hold
    ~2,600 envelopes (~750 MB) in it (docs/benchmarks.md, 2026-12-05)."""
    settings = Settings(worker_take=150)
    app = create_app(settings, bootstrap="127.0.0.1:9")
    [ingest] = [agent for name, agent in app.agents.items() if name.endswith(".ingest")]
    queue = ingest.channel_iterator.queue
    assert queue.maxsize == STREAM_BUFFER_TAKES * settings.worker_take <= 4 * 150
    # Faust pauses the fetch at pressure_high_size and resumes it at pressure_drop_size: a whole take is
    # still buffered when it resumes
    assert queue.pressure_drop_size >= settings.worker_take and queue.pressure_high_size < queue.maxsize


def test_metrics_render_counters_and_gauges_and_skip_missing_values():
    text = prometheus_text({"cdrs_stored": 7, "last_write_s": 0.25, "latency_p50_ms": None})
    assert "# TYPE cdrflow_worker_cdrs_stored_total counter\ncdrflow_worker_cdrs_stored_total 7\n" in text
    assert "cdrflow_worker_last_write_s 0.25" in text and "latency_p50" not in text


def test_ready_follows_partition_assignment_and_metrics_scrape(settings, worker):
    worker.start()                                  # returns once /health answers
    deadline = time.monotonic() + 120
    while (answer := get(settings, "/ready"))[0] != 200:
        assert answer[0] == 503 and b'"ready":false' in answer[1]
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)
    assert b'"clickhouse":true' in answer[1]
    status, body = get(settings, "/metrics")
    assert status == 200 and b"cdrflow_worker_messages_total 0" in body
    status, body = get(settings, "/stats?since_ms=0")
    assert status == 200 and orjson.loads(body)["latency_p95_ms"] is None
    assert get(settings, "/stats?since_ms=soon")[0] == 400
    assert "/query is on: 127.0.0.1" in worker.log.read_text()   # the start-up line, on the default bind


@pytest.mark.parametrize("bind, loopback", [
    ("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("::ffff:127.0.0.1", True), ("localhost", True),
    ("LOCALHOST", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("", False),
    ("worker-0.cdrflow", False), ("localhost.example.com", False),
])
def test_loopback_binds(bind, loopback):
    assert is_loopback(bind) is loopback


def test_a_clickhouse_server_is_never_queried_through_the_worker(tmp_path):
    settings = Settings(data_dir=tmp_path, clickhouse_url="http://clickhouse:8123")
    assert "ClickHouse is a server" in query_refusal(settings)


def serve(settings: Settings, *requests):
    """The worker app's web server alone (no Kafka consumer, no agents: the cheapest real server), with
    the state file a running worker leaves, while each request runs as a client would. Migrated first,
    as `cdrflow migrate` does before a worker starts (closed again: the app opens the chdb path itself)."""
    client = connect(settings)
    migrate(client, settings)
    client.close()
    app = create_app(settings, bootstrap="127.0.0.1:9")
    publish_state(settings, "worker", port=settings.worker_web_port)

    async def main():
        await app.web.start_server()
        try:
            return [await asyncio.get_running_loop().run_in_executor(None, request) for request in requests]
        finally:
            await app.web.stop_server()
            app.cdrflow_close_clickhouse()
    try:
        return asyncio.run(main())
    finally:
        clear_state(settings, "worker")


def post_query(settings: Settings, sql: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{settings.worker_web_port}/query",
                                     data=orjson.dumps({"sql": sql}))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_query_is_refused_on_a_non_loopback_bind(tmp_path):
    settings = Settings(data_dir=tmp_path, worker_web_bind="0.0.0.0", worker_web_port=free_port())

    def run_query_as_cdrflow_query_does():
        with pytest.raises(QueryError) as refused:
            run_query(settings, "SELECT 1")
        return str(refused.value)

    (status, body), message, (stats_status, _) = serve(
        settings, lambda: post_query(settings, "SELECT 1"), run_query_as_cdrflow_query_does,
        lambda: get(settings, "/stats"))
    assert status == 403 and b"not a loopback address" in body and b"CDRFLOW_WORKER_WEB_BIND=127.0.0.1" in body
    assert message.startswith("/query is off: the worker's web port binds '0.0.0.0', not a loopback address")
    assert stats_status == 200                      # the server runs: only /query is off


def test_query_answers_on_a_loopback_bind(tmp_path):
    settings = Settings(data_dir=tmp_path, worker_web_bind="127.0.0.1", worker_web_port=free_port())
    (status, body), answer = serve(settings, lambda: post_query(settings, "SELECT 40 + 2 AS answer"),
                                   lambda: run_query(settings, "SELECT 'cdr' AS kind"))
    assert status == 200 and orjson.loads(body) == {"columns": ["answer"], "rows": [[42]]}
    assert answer == (["kind"], [["cdr"]])
