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

import orjson
from rich.console import Console
from rich.table import Table

from .config import Settings
from .kafka_admin import ensure_topics, pipeline_topics
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


DETECTION_SPEED = 10          # event time runs this many times faster than wall time
DETECTION_CPS = 2_000         # calls per second of event time: 20,000 CDR/s of wall time
DETECTION_ONSET_MIN = 17      # history first: the recent baseline ends 15 minutes before "now"
# (interconnect, fault kind, onset second): staggered inside a minute, as real faults are
DETECTION_FAULTS = (("att", "answer_collapse", 7), ("lumen", "network_causes", 19), ("tmobile", "traffic_vanish", 31),
                    ("verizon", "answer_collapse", 43), ("bandwidth", "network_causes", 53),
                    ("dtag-intl", "traffic_vanish", 13))


def _detection_latency(settings: Settings, publisher: Publisher, worker: subprocess.Popen) -> dict:
    """Fault onset (event time) → incident open event, over simulated faults in a stream replayed
    at DETECTION_SPEED × real time (DETECTION_CPS × speed CDR/s of wall time)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from .producers.simulate import Fault, SimConfig, as_written, paced

    # a month ahead of the other stages' event time, so their rows are not this stage's baseline
    start = (int(time.time()) // 60 + 30 * 24 * 60) * 60_000
    onset = {ic: start + DETECTION_ONSET_MIN * 60_000 + second * 1000 for ic, _, second in DETECTION_FAULTS}
    faults = tuple(Fault(ic, kind, onset[ic], onset[ic] + 5 * 60_000) for ic, kind, _ in DETECTION_FAULTS)
    cfg = SimConfig(seed=23, start_ms=start, calls_per_second=DETECTION_CPS, interconnects=dict(settings.interconnects),
                    faults=faults, diurnal=False)
    end = start + (DETECTION_ONSET_MIN + 6) * 60_000
    day = (c for c in as_written(generate(cfg, until_ms=end)) if c["end_ms"] < end)
    published = publish_stream(paced(day, speed=DETECTION_SPEED, at="end_ms"), publisher, settings.batch_max_cdrs,
                               flush_every=4)
    _wait(lambda: (_stats(settings) or {}).get("watermark_ms", 0) >= end - 60_000, 600, worker)

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{time.time_ns()}",
                         "enable.auto.commit": False})
    # assigned, not subscribed: no group join to wait for (one partition, see pipeline_topics)
    consumer.assign([TopicPartition(settings.topic_incidents, 0, OFFSET_BEGINNING)])
    opened: dict[str, int] = {}
    false_positives = set()
    quiet_until = time.monotonic() + 5
    while time.monotonic() < quiet_until:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        quiet_until = time.monotonic() + 3
        event = orjson.loads(message.value())
        incident = event["incident"]
        if event["event"] != "open" or incident["start_ms"] < start:
            continue
        ic = incident["interconnect"]
        if ic not in onset:
            false_positives.add(ic)
            continue
        # the incident is emitted when the newest CDR seen ends at updated_ms + lateness
        detected = incident["updated_ms"] + int(settings.detection_lateness_s * 1000)
        opened[f'{ic}|{incident["direction"]}'] = detected - onset[ic]
    consumer.close()
    lat = sorted(opened.values())
    missed = sorted(ic for ic in onset if not any(k.startswith(ic + "|") for k in opened))
    return {
        "detection_cdrs": published,
        "detection_incidents_opened": f"{len(lat)} ({len(DETECTION_FAULTS)} faults × in/out)",
        "detection_latency_p50_s": lat[len(lat) // 2] / 1000 if lat else None,
        "detection_latency_p95_s": lat[min(len(lat) - 1, int(0.95 * len(lat)))] / 1000 if lat else None,
        "detection_latency_max_s": lat[-1] / 1000 if lat else None,
        "detection_latency_by_fault_s": ", ".join(
            f"{ic} {kind}: " + "/".join(f"{opened[f'{ic}|{d}'] / 1000:.0f}" for d in ("in", "out") if f"{ic}|{d}" in opened)
            for ic, kind, _ in DETECTION_FAULTS),
        "detection_faults_missed": ", ".join(missed) or "none",
        "detection_false_positives": ", ".join(sorted(false_positives)) or "none",
    }


def run_bench(cdrs: int, partitions: int, console: Console, rate: float = 20_000, paced_s: float = 15,
              throughput: bool = True, detection: bool = True) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="cdrflow-bench-") as tmp, LocalBroker() as broker:
        env = dict(os.environ, CDRFLOW_DATA_DIR=tmp, CDRFLOW_KAFKA_BOOTSTRAP=broker.bootstrap,
                   CDRFLOW_PARTITIONS=str(partitions), CDRFLOW_WORKER_WEB_PORT=str(free_port()))
        os.environ.update({k: env[k] for k in ("CDRFLOW_DATA_DIR", "CDRFLOW_KAFKA_BOOTSTRAP",
                                                 "CDRFLOW_PARTITIONS", "CDRFLOW_WORKER_WEB_PORT")})
        settings = Settings()
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        worker = subprocess.Popen([sys.executable, "-m", "cdrflow", "worker"], env=env,
                                  stdout=open(Path(tmp) / "worker.log", "wb"), stderr=subprocess.STDOUT)
        try:
            publisher = Publisher(broker.bootstrap, settings)
            with console.status("warming up: worker joins its group and stores a first batch …"):
                _wait(lambda: _stats(settings) is not None, 120, worker)
                warmup = list(generate(default_config(settings, seed=8, calls_per_second=2000.0), count=2_000))
                publish_stream(warmup, publisher, settings.batch_max_cdrs)
                _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) >= len(warmup), 120, worker)
            if throughput:
                figures.update(_throughput(settings, publisher, worker, cdrs, rate, paced_s, console))
            if detection:
                with console.status(f"detection: {DETECTION_CPS * DETECTION_SPEED:,} CDR/s, "
                                    f"{len(DETECTION_FAULTS)} faults, event time ×{DETECTION_SPEED} …"):
                    figures.update(_detection_latency(settings, publisher, worker))
            figures["worker_peak_rss_mb"] = _stats(settings)["peak_rss_mb"]
        finally:
            worker.terminate()
            worker.wait(30)

    table = Table("figure", "value", title=f"cdrflow bench — {partitions} partitions, {os.cpu_count()} cores")
    for name, value in figures.items():
        table.add_row(name, f"{value:,.1f}" if isinstance(value, float) and value < 100
                      else f"{value:,.0f}" if isinstance(value, (int, float)) else str(value))
    console.print(table)
    console.print("end to end = first CDR published → last CDR stored, producer and worker running together;\n"
                  f"latency = Kafka produce time → stored in ClickHouse per message, paced at {rate:,.0f} CDR/s;\n"
                  "detection latency = fault onset → incident open event, in event time (the newest CDR end "
                  "the detector had seen), per interconnect and direction")
    return figures


def _throughput(settings: Settings, publisher: Publisher, worker: subprocess.Popen, cdrs: int, rate: float,
                paced_s: float, console: Console) -> dict:
    with console.status("generating simulated CDRs …"):
        t0 = time.perf_counter()
        batch = list(generate(default_config(settings, seed=7, calls_per_second=2000.0), count=cdrs))
        generate_rate = cdrs / (time.perf_counter() - t0)
    with console.status("parse stage (asterisk_csv) …"):
        parse_rate = _parse_rate(batch, console)
    with console.status(f"latency: {rate:,.0f} CDR/s paced for {paced_s:.0f} s …"):
        paced_cdrs = list(generate(default_config(settings, seed=9, calls_per_second=2000.0), count=int(rate * paced_s)))
        before = _stats(settings)["cdrs_stored"]
        _publish_paced(paced_cdrs, publisher, settings.batch_max_cdrs, rate)
        _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) - before >= len(paced_cdrs), 600, worker)
        latency = _stats(settings)
    with console.status(f"throughput: publishing {cdrs:,} CDRs flat out while the worker stores them …"):
        t_start = time.perf_counter()
        publish_stream(batch, publisher, settings.batch_max_cdrs)
        produce_s = time.perf_counter() - t_start
        _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) - latency["cdrs_stored"] >= cdrs, 1800, worker)
        end_to_end_s = time.perf_counter() - t_start
    return {
        "cdrs": cdrs,
        "simulate_cdr_per_s": generate_rate,
        "parse_asterisk_csv_cdr_per_s": parse_rate,
        "produce_cdr_per_s": cdrs / produce_s,
        "end_to_end_cdr_per_s": cdrs / end_to_end_s,
        f"latency_p50_ms_at_{rate:.0f}_cdr_per_s": latency["latency_p50_ms"],
        f"latency_p95_ms_at_{rate:.0f}_cdr_per_s": latency["latency_p95_ms"],
    }


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
