"""`cdrflow bench`: M simulated CDRs through producer → Kafka → Faust worker → ClickHouse.

Runs on its own local broker and a throw-away embedded ClickHouse, so figures are not mixed with
a running stack. Prints per-stage CDR/s, end to end CDR/s, produce→stored latency and the
worker's peak RSS; `docs/benchmarks.md` records what it printed.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from .config import Settings
from .kafka_admin import consumer_lag, ensure_topics, pipeline_topics
from .local_broker import LocalBroker, free_port
from .producers.formats import parser_for
from .producers.parsing import SourceContext
from .producers.publisher import Publisher
from .producers.simulate import default_config, generate
from .producers.simulator_source import publish_stream
from .runtime import QueryError, worker_request


def _parse_rate(cdrs: list[dict], console: Console) -> float:
    """asterisk_csv parse stage: the simulated calls rendered as Master.csv lines, then parsed."""
    parser = parser_for("asterisk_csv")
    lines = [
        (f'"","{c["calling_number"]}","{c["called_number"]}","from-trunk","","SIP/{c["ingress_trunk"] or "x"}-0000a1",'
         f'"SIP/{c["egress_trunk"] or "y"}-0000b2","Dial","","2026-11-20 10:00:00","","2026-11-20 10:00:30",30,0,'
         f'"NO ANSWER","DOCUMENTATION","1795000000.{i}",""\n').encode()
        for i, c in enumerate(cdrs[:100_000])]
    ctx = SourceContext("bench", "bench.csv", ZoneInfo("UTC"))
    t0 = time.perf_counter()
    offset = 0
    for line in lines:
        parser(line, offset, ctx).model_dump()
        offset += len(line)
    return len(lines) / (time.perf_counter() - t0)


def _publish_paced(cdrs: list[dict], publisher: Publisher, batch: int, rate: float) -> None:
    """Publishes envelopes of `batch` CDRs at `rate` CDR/s (wall clock)."""
    t0 = time.perf_counter()
    for i in range(0, len(cdrs), batch):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        publisher.send_cdrs(cdrs[i]["source"], cdrs[i:i + batch])
    publisher.flush()


def run_bench(cdrs: int, partitions: int, console: Console, rate: float = 20_000, paced_s: float = 15) -> dict:
    with tempfile.TemporaryDirectory(prefix="cdrflow-bench-") as tmp, LocalBroker() as broker:
        env = dict(os.environ, CDRFLOW_DATA_DIR=tmp, CDRFLOW_KAFKA_BOOTSTRAP=broker.bootstrap,
                   CDRFLOW_PARTITIONS=str(partitions), CDRFLOW_WORKER_WEB_PORT=str(free_port()))
        os.environ.update({k: env[k] for k in ("CDRFLOW_DATA_DIR", "CDRFLOW_KAFKA_BOOTSTRAP",
                                                 "CDRFLOW_PARTITIONS", "CDRFLOW_WORKER_WEB_PORT")})
        settings = Settings()
        ensure_topics(broker.bootstrap, pipeline_topics(settings))

        with console.status("generating simulated CDRs …"):
            t0 = time.perf_counter()
            batch = list(generate(default_config(settings, seed=7, calls_per_second=2000.0), count=cdrs))
            generate_rate = cdrs / (time.perf_counter() - t0)
        with console.status("parse stage (asterisk_csv) …"):
            parse_rate = _parse_rate(batch, console)

        worker = subprocess.Popen([sys.executable, "-m", "cdrflow", "worker"], env=env,
                                  stdout=open(Path(tmp) / "worker.log", "wb"), stderr=subprocess.STDOUT)
        try:
            publisher = Publisher(broker.bootstrap, settings)
            with console.status("warming up: worker joins its group and stores a first batch …"):
                _wait(lambda: _stats(settings) is not None, 120, worker)
                warmup = list(generate(default_config(settings, seed=8, calls_per_second=2000.0), count=2_000))
                publish_stream(warmup, publisher, settings.batch_max_cdrs)
                _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) >= len(warmup), 120, worker)
            with console.status(f"latency: {rate:,.0f} CDR/s paced for {paced_s:.0f} s …"):
                paced_cdrs = list(generate(default_config(settings, seed=9, calls_per_second=2000.0),
                                           count=int(rate * paced_s)))
                before = _stats(settings)["cdrs_stored"]
                _publish_paced(paced_cdrs, publisher, settings.batch_max_cdrs, rate)
                _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) - before >= len(paced_cdrs), 600, worker)
                latency = _stats(settings)
            baseline = latency["cdrs_stored"]
            with console.status(f"throughput: publishing {cdrs:,} CDRs flat out while the worker stores them …"):
                t_start = time.perf_counter()
                publish_stream(batch, publisher, settings.batch_max_cdrs)
                produce_s = time.perf_counter() - t_start
                _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) - baseline >= cdrs, 1800, worker)
                end_to_end_s = time.perf_counter() - t_start
            stats = _stats(settings)
        finally:
            worker.terminate()
            worker.wait(30)

    figures = {
        "cdrs": cdrs,
        "simulate_cdr_per_s": generate_rate,
        "parse_asterisk_csv_cdr_per_s": parse_rate,
        "produce_cdr_per_s": cdrs / produce_s,
        "end_to_end_cdr_per_s": cdrs / end_to_end_s,
        f"latency_p50_ms_at_{rate:.0f}_cdr_per_s": latency["latency_p50_ms"],
        f"latency_p95_ms_at_{rate:.0f}_cdr_per_s": latency["latency_p95_ms"],
        "worker_peak_rss_mb": stats["peak_rss_mb"],
    }
    table = Table("figure", "value", title=f"cdrflow bench — {cdrs:,} CDRs, {partitions} partitions, {os.cpu_count()} cores")
    for name, value in figures.items():
        table.add_row(name, f"{value:,.0f}" if isinstance(value, (int, float)) else str(value))
    console.print(table)
    console.print("end to end = first CDR published → last CDR stored, producer and worker running together;\n"
                  f"latency = Kafka produce time → stored in ClickHouse per message, paced at {rate:,.0f} CDR/s")
    return figures


def _stats(settings: Settings) -> dict | None:
    try:
        return worker_request(settings, "/stats", timeout_s=5)
    except QueryError:
        return None


def _wait(predicate, timeout_s: float, worker: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark stage timed out")
        time.sleep(0.2)
