"""`cdrflow up`: the local stack as separate processes, so each piece runs as it would deployed.

broker (Tansu, unless Kafka is configured) → producer process (simulator or file watcher) →
Faust worker process (the only owner of an embedded chdb path) ← live view, which reads the
worker's /stats and queries ClickHouse through the worker.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cdrflow.clickhouse.sql import query as named_query
from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import ensure_topics, pipeline_topics
from cdrflow.infra.local_broker import LocalBroker
from cdrflow.infra.runtime import QueryError, clear_state, publish_state, read_state, worker_request


class Stack:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.broker: LocalBroker | None = None
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = settings.resolved_data_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ, CDRFLOW_DATA_DIR=str(settings.resolved_data_dir))

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, ingest: Path | None, format: str, rate: float, layout: Path | None = None) -> None:
        if self.settings.embedded_clickhouse and read_state(self.settings, "worker"):
            raise SystemExit("a cdrflow worker already owns this data dir's embedded ClickHouse; stop it first")
        bootstrap = self.settings.kafka_bootstrap
        if not bootstrap:
            self.broker = LocalBroker(log_path=self.logs / "tansu.log").start()
            bootstrap = self.broker.bootstrap
            publish_state(self.settings, "broker", bootstrap=bootstrap)
        ensure_topics(bootstrap, pipeline_topics(self.settings))
        self.env["CDRFLOW_KAFKA_BOOTSTRAP"] = bootstrap
        self._spawn("worker", ["worker"])
        if ingest:
            given = ["--layout", str(layout)] if layout else []
            self._spawn("producer", ["ingest", str(ingest), "--format", format, *given, "--follow",
                                     "--source", ingest.name])
        else:
            # ten minutes of history first: the live view (settled minutes) has figures at once
            self._spawn("producer", ["simulate", "--rate", str(rate), "--history-minutes", "10"])

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "cdrflow", *args], env=self.env,
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        # Producer first so the worker can drain what was published; then the worker; then the broker.
        for name in ("producer", "worker"):
            process = self.processes.pop(name, None)
            if process and process.poll() is None:
                process.send_signal(signal.SIGINT if name == "producer" else signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self.broker:
            self.broker.stop()
            clear_state(self.settings, "broker")
            self.broker = None

    def watch(self, duration: float | None) -> None:
        deadline = time.monotonic() + duration if duration else None
        last: tuple[float, int] | None = None
        try:
            with Live(refresh_per_second=2, transient=False) as live:
                while deadline is None or time.monotonic() < deadline:
                    for name, process in self.processes.items():
                        if process.poll() is not None:
                            raise SystemExit(f"{name} exited with {process.returncode}; see {self.logs / (name + '.log')}")
                    stats = worker_request(self.settings, "/stats", timeout_s=2)
                    rate = 0.0
                    if stats:
                        now = time.monotonic()
                        if last:
                            rate = (stats["cdrs_in"] - last[1]) / max(now - last[0], 1e-6)
                        last = (now, stats["cdrs_in"])
                    live.update(self._view(stats, rate))
                    time.sleep(1)
        except KeyboardInterrupt:
            pass

    def _view(self, stats: dict | None, rate: float) -> Group:
        if not stats:
            return Group(Text("waiting for the worker to join its consumer group …", style="yellow"))
        head = Text.assemble(("CDRs/s in ", "bold"), f"{rate:,.0f}   ", ("stored ", "bold"), f"{stats['cdrs_stored']:,}   ",
                             ("duplicates skipped ", "bold"), f"{stats['duplicates_skipped']:,}   ",
                             ("dead letters ", "bold"), f"{stats['dead_letters']:,}")
        table = Table("interconnect", "dir", "seizures", "answered", "ASR", "NER", title="5 minutes ending 5 minutes ago (event time: calls count once they end)")
        try:
            answer = worker_request(self.settings, "/query", {
                "sql": named_query("live_interconnects", self.settings), "parameters": {"minutes": 5, "settle": 5}}, timeout_s=5)
        except QueryError as exc:
            return Group(head, Text(f"query failed: {exc}", style="red"))
        for row in (answer or {}).get("rows", []):
            ic, direction, seizures, answered, asr, ner = row
            style = "red" if asr < 0.3 else None
            table.add_row(ic, str(direction), f"{seizures:,}", f"{answered:,}", f"{asr:.1%}", f"{ner:.1%}", style=style)
        return Group(head, table)
