"""Fixtures on real components: a Tansu broker on a free loopback port, a Faust worker process
owning an embedded chdb in a temp dir, queried through the worker as users do."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer

from cdrflow.config import Settings
from cdrflow.kafka_admin import consumer_lag, ensure_topics, pipeline_topics
from cdrflow.local_broker import LocalBroker, free_port
from cdrflow.runtime import QueryError, run_query, worker_request

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples"


@pytest.fixture
def broker():
    with LocalBroker() as local:
        yield local


@pytest.fixture
def settings(request, tmp_path, broker, monkeypatch) -> Settings:
    """Settings on the test's broker and data dir; a test overrides variables with
    @pytest.mark.parametrize("settings", [{"CDRFLOW_…": "…"}], indirect=True)."""
    env = {
        "CDRFLOW_DATA_DIR": str(tmp_path / "data"),
        "CDRFLOW_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CDRFLOW_WORKER_WEB_PORT": str(free_port()),
        "CDRFLOW_RETENTION_DAYS": "5000",   # the real samples are from 2017: keep them past the TTL
        "CDRFLOW_WORKER_WITHIN_S": "0.2",
        **getattr(request, "param", {}),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    ensure_topics(broker.bootstrap, pipeline_topics(settings))
    return settings


@pytest.fixture
def clickhouse(tmp_path, monkeypatch):
    """(settings, client): a migrated embedded ClickHouse in a temp dir, opened in this process
    (chdb allows one path per process at a time, so the client is closed after the test)."""
    from cdrflow.clickhouse.client import connect
    from cdrflow.clickhouse.migrate import migrate

    monkeypatch.setenv("CDRFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDRFLOW_RETENTION_DAYS", "5000")
    settings = Settings()
    client = connect(settings)
    migrate(client, settings)
    yield settings, client
    client.close()


class WorkerProcess:
    """`cdrflow worker` as a child process, the way `cdrflow up` and Kubernetes run it."""

    def __init__(self, settings: Settings, log: Path):
        self.settings, self.log, self.process = settings, log, None

    def start(self) -> "WorkerProcess":
        self.process = subprocess.Popen([sys.executable, "-m", "cdrflow", "worker", "--loglevel", "info"],
                                        env=dict(os.environ), stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"worker died: {self.log.read_text()[-3000:]}"
            try:
                if worker_request(self.settings, "/health", timeout_s=2):
                    return self
            except QueryError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"worker not healthy: {self.log.read_text()[-3000:]}")

    def stats(self) -> dict:
        try:
            return worker_request(self.settings, "/stats", timeout_s=5) or {}
        except QueryError:  # busy: ask again
            return {}

    def wait_for(self, predicate, timeout_s: float = 120) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats and predicate(stats):
                return stats
            time.sleep(0.3)
        raise TimeoutError(f"worker stats never matched: {self.stats()}")

    def settle(self, timeout_s: float = 180) -> dict:
        """Waits until the worker group has committed everything on the CDR topic: drained."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if consumer_lag(self.settings.kafka_bootstrap, "cdrflow", self.settings.topic_cdr_batches) == 0:
                return self.stats()
            time.sleep(0.5)
        lag = consumer_lag(self.settings.kafka_bootstrap, "cdrflow", self.settings.topic_cdr_batches)
        raise TimeoutError(f"worker never drained the topic (lag {lag}): {self.stats()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def worker(settings, tmp_path):
    process = WorkerProcess(settings, tmp_path / "worker.log")
    yield process
    process.stop()


def query(settings: Settings, sql: str, parameters: dict | None = None) -> list[list]:
    return run_query(settings, sql, parameters)[1]


def read_topic(bootstrap: str, topic: str, expect: int, timeout_s: float = 30) -> list[bytes]:
    """Reads a topic from the beginning until `expect` messages arrived (or the timeout)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(values) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                values.append(msg.value())
        # a short extra poll shows there is nothing beyond what was expected
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            msg = consumer.poll(0.3)
            if msg is not None and not msg.error():
                values.append(msg.value())
    finally:
        consumer.close()
    return values


def asterisk_line(i: int, answered: bool = True, trunk: str = "TG-VZ-01") -> bytes:
    """One Asterisk cdr_csv (18-column) line; uniqueid i makes every line its own record."""
    start = f"2026-11-20 {10 + i // 360000 % 10:02d}:{i // 6000 % 60:02d}:{i // 100 % 60:02d}"
    answer = start if answered else ""
    billsec = 60 if answered else 0
    disposition = "ANSWERED" if answered else "NO ANSWER"
    return (f'"acct","212555{i % 10000:04d}","+4420{i:08d}","from-internal","""Caller"" <212555{i % 10000:04d}>",'
            f'"SIP/{trunk}-{i:08x}","SIP/TG-BT-01-{i:08x}","Dial","SIP/TG-BT-01/+4420{i:08d}",'
            f'"{start}","{answer}","{start}",{billsec},{billsec},"{disposition}","DOCUMENTATION","1795000000.{i}",""\n').encode()


def write_asterisk_file(path: Path, count: int, first: int = 0) -> int:
    """Writes `count` lines; returns how many of them are answered (every third is not)."""
    with open(path, "ab") as fh:
        fh.writelines(asterisk_line(i, answered=i % 3 != 0) for i in range(first, first + count))
    return sum(1 for i in range(first, first + count) if i % 3 != 0)


def lines_of(data: bytes) -> list[tuple[int, bytes]]:
    """(byte offset, line with its ending) of every line, as the file source feeds a parser."""
    offset, out = 0, []
    for line in data.splitlines(keepends=True):
        out.append((offset, line))
        offset += len(line)
    return out
