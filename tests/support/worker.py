"""A real worker process owning an embedded chdb, queried as users do."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cdrflow.clickhouse.client import run_query
from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import consumer_lag
from cdrflow.infra.runtime import QueryError, worker_request
from cdrflow.stack import run_migrate


class WorkerProcess:
    """`cdrflow worker` as a child process, the way `cdrflow up` and Kubernetes run it: its first
    start runs `cdrflow migrate` before it (workers only check the schema version)."""

    def __init__(self, settings: Settings, log: Path):
        self.settings, self.log, self.process = settings, log, None
        self.migrated = False

    def start(self) -> "WorkerProcess":
        if not self.migrated:
            run_migrate(dict(os.environ), self.log)
            self.migrated = True
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


def query(settings: Settings, sql: str, parameters: dict | None = None) -> list[list]:
    return run_query(settings, sql, parameters)[1]
