"""`cdrflow bench`: M simulated CDRs through producer → Kafka → Faust worker → ClickHouse.

Runs on its own local broker and a throw-away embedded ClickHouse (migrated by `cdrflow migrate`
first, as `cdrflow up` does), so figures are not mixed with a running stack. Prints per-stage
CDR/s: the worker alone draining a pre-filled topic, end to end as the median of END_TO_END_RUNS
runs (each shown), produce→stored latency, the worker's peak RSS and, when the worker reports
them, its steps' µs per CDR; with the traffic's share of distinct numbers, since enrichment works
once per distinct number and figures on different number mixes do not compare.
`docs/benchmarks.md` records what it printed.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import psutil
from rich.console import Console
from rich.table import Table

from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import ensure_topics, pipeline_topics
from cdrflow.infra.local_broker import LocalBroker, free_port
from cdrflow.bench.dbf_writer import header, record
from cdrflow.producers.formats import parser_for
from cdrflow.producers.file_source import CHUNK_BYTES
from cdrflow.producers.parsing import SourceContext, parse_lines
from cdrflow.producers.publisher import Publisher
from cdrflow.producers.simulate import as_written, default_config, generate
from cdrflow.producers.simulator_source import publish_stream
from cdrflow.schemas.envelope import encode_batch
from cdrflow.infra.runtime import QueryError, worker_request
from cdrflow.stack import run_migrate
from cdrflow.stream.worker_stats import percentile


LINE_BENCH_FORMATS = ("asterisk_csv", "asterisk_custom", "freeswitch_csv", "freeswitch_json", "ribbon_sbc", "acme_sbc",
                      "audiocodes_syslog", "cisco_cucm", "kamailio_acc")
PARSE_BENCH_FORMATS = LINE_BENCH_FORMATS + ("wintariff_dbf",)
PARSE_BENCH_CDRS = 100_000
PARSE_BENCH_RUNS = 3
END_TO_END_RUNS = 3       # this machine's speed varies by tens of percent from minute to minute: the median
# CUCM 15 writes 133 columns; the bench header has the ones read plus fillers up to that count
CUCM_COLUMNS = 133
KAMAILIO_HEADER = ("id,method,from_tag,to_tag,callid,sip_code,sip_reason,time,src_ip,dst_ouser,dst_user,"
                   "dst_domain,src_user,src_domain,cdr_id,calltype,src_gwgroupid,dst_gwgroupid")


def _positional(width: int, at: dict[str, int], values: dict[str, str], first: str, base: int = 1) -> list[str]:
    row = [""] * width
    row[0] = first
    for name, value in values.items():
        row[at[name] - base] = value
    return row


def _csv_line(row: list[str]) -> bytes:
    return (",".join(f'"{v}"' if "," in v else v for v in row) + "\n").encode()


def format_lines(fmt: str, cdrs: list[dict]) -> tuple[bytes, list[bytes]]:
    """(first line of the file, lines) of `fmt` shaped like its samples, one per simulated CDR:
    unanswered 30 s calls with the simulated numbers and trunks, each with its own id."""
    from cdrflow.producers import acme_sbc, audiocodes_syslog, cisco_cucm, ribbon_sbc

    first = None
    cucm_header = list(cisco_cucm.REQUIRED) + [f"column{i}" for i in range(CUCM_COLUMNS - len(cisco_cucm.REQUIRED))]
    lines = []
    for i, c in enumerate(cdrs):
        src, dst = c["calling_number"], c["called_number"]
        tin, tout = c["ingress_trunk"] or "x", c["egress_trunk"] or "y"
        if fmt == "asterisk_csv":
            line = (f'"","{src}","{dst}","from-trunk","","SIP/{tin}-0000a1","SIP/{tout}-0000b2","Dial","",'
                    f'"2026-11-20 10:00:00","","2026-11-20 10:00:30",30,0,"NO ANSWER","DOCUMENTATION",'
                    f'"1795000000.{i}",""\n').encode()
        elif fmt == "asterisk_custom":   # the Master.csv mapping of cdr_custom.conf.sample
            line = (f'"","{src}","{dst}","from-trunk","SIP/{tin}-0000a1","SIP/{tout}-0000b2","Dial","",'
                    f'"2026-11-20 10:00:00","","2026-11-20 10:00:30","30","0","NO ANSWER","DOCUMENTATION","",'
                    f'"1795000000.{i}","",{i}\n').encode()
        elif fmt == "freeswitch_csv":
            line = (f'"{src}","{src}","{dst}","public","2026-11-20 10:00:00","","2026-11-20 10:00:30","30","0",'
                    f'"NO_ANSWER","u-{i}","","","PCMA","PCMA"\n').encode()
        elif fmt == "freeswitch_json":
            line = ('{"core-uuid":"c","switchname":"fs1","channel_data":{"direction":"inbound"},"variables":'
                    f'{{"uuid":"u-{i}","sip_call_id":"{i}%40fs1","direction":"inbound","sip_gateway_name":"{tin}",'
                    '"start_uepoch":"1795168800000000","answer_uepoch":"0","end_uepoch":"1795168830000000",'
                    '"billsec":"0","hangup_cause":"NO_ANSWER","hangup_cause_q850":"19","sip_term_status":"480",'
                    '"progressmsec":"1200","progress_mediamsec":"0"},"callflow":[{"caller_profile":'
                    f'{{"caller_id_number":"{src}","destination_number":"{dst}"}}}}]}}\n').encode()
        elif fmt == "ribbon_sbc":
            line = _csv_line(_positional(ribbon_sbc.MIN_FIELDS["ATTEMPT"] + 128, ribbon_sbc.LAYOUTS["ATTEMPT"], {
                "gateway": "GSX1", "accounting_id": f"0x{i:016X}", "zone": "GMT-08:00-Pacific(US)",
                "start_date": "11/20/2026", "start_time": "10:00:00.0", "alerting": "120", "end_time": "10:00:30.0",
                "reason": "19", "calling": src, "called": dst, "route_attempt": "1", "route": f"GSX1:{tout}",
                "ingress_tg": tin, "ingress_signaling": "", "initiator": "1", "egress_tg": tout}, "ATTEMPT"))
        elif fmt == "acme_sbc":
            _, at = acme_sbc.LAYOUTS[("2", 175)]   # C6.4 stop
            line = _csv_line(_positional(175, at, {
                "Acct-Session-Id": f"s-{i}", "Acme-Session-Ingress-CallId": f"{i}@sbc",
                "Calling-Station-Id": f"<sip:{src}@192.0.2.1>", "Called-Station-Id": f"<sip:{dst}@198.51.100.1>",
                "h323-setup-time": "10:00:00.000 UTC NOV 20 2026", "h323-connect-time": "",
                "h323-disconnect-time": "10:00:30.000 UTC NOV 20 2026", "Acct-Session-Time": "0",
                "Acme-Session-Disposition": "2", "Acme-Disconnect-Initiator": "1", "Acme-Disconnect-Cause": "19",
                "Acme-SIP-Status": "480", "Acme-Session-Ingress-Realm": tin, "Acme-Session-Egress-Realm": tout,
                "Acme-Post-Dial-Delay": "1200", "Acme-Originating-Trunk-Group": "",
                "Acme-Terminating-Trunk-Group": ""}, "2", base=0))
        elif fmt == "audiocodes_syslog":
            values = {"SBCReportType": "CALL_END", "EPTyp": "SBC", "SIPCallId": f"{i}@sbc", "SessionId": str(i),
                      "Orig": "RMT", "SrcURI": f"{src}@h", "DstURI": f"{dst}@h", "Durat": "0", "TrmSd": "RMT",
                      "TrmReason": "GWAPP_NO_ANSWER_FROM_USER_ALERTED", "SetupTime": "10:00:00.000 UTC Fri Nov 20 2026",
                      "ReleaseTime": "10:00:30.000 UTC Fri Nov 20 2026", "IPGroup": f"1 ({tin})", "SIPTrmReason": "480"}
            row = [values.get(n, "") for n in audiocodes_syslog.DEFAULT_COLUMNS]
            line = f"<134>Nov 20 10:00:30 10.0.0.1  [S={i}] |" + " |".join(row) + "\n"
            line = line.encode()
        elif fmt == "cisco_cucm":
            first = (",".join(f'"{name}"' for name in cucm_header) + "\n").encode()
            values = {"cdrRecordType": "1", "globalCallID_callManagerId": "2", "globalCallID_callId": str(i),
                      "pkid": f"bde20536-1250-4382-af5b-{i:012d}", "dateTimeOrigination": "1795168800",
                      "dateTimeConnect": "0", "dateTimeDisconnect": "1795168830", "duration": "0",
                      "callingPartyNumber": f'"{src}"', "originalCalledPartyNumber": f'"{dst}"',
                      "origCause_value": "0", "destCause_value": "19", "origDeviceName": f'"{tin}"',
                      "destDeviceName": f'"{tout}"'}
            line = (",".join(values.get(name, "0") for name in cucm_header) + "\n").encode()
        elif fmt == "kamailio_acc":
            first = (KAMAILIO_HEADER + "\n").encode()
            line = (f"{i},INVITE,ft{i},tt{i},call-{i}@10.0.0.1,480,Temporarily Unavailable,2026-11-20 10:00:30,"
                    f"192.0.2.1,{dst},{dst},198.51.100.1,{src},192.0.2.1,0,,1,2\n").encode()
        else:
            raise ValueError(f"no bench lines for format {fmt!r}")
        lines.append(line)
    return first or lines[0], lines


def _untracked_inputs() -> None:
    """Keep the bench's own inputs (the simulated calls, the format's lines) out of the garbage
    collector's full passes, which a producer's small heap never pays for. (Not measured alone:
    the big difference between runs came from a process shared between formats, see parse_stage.)"""
    gc.collect()
    gc.freeze()


class _Envelopes:
    """Where a parse stage's records go: encoded into the publisher's envelopes and dropped, or
    published to a broker as the file source publishes them (Publisher.send_cdrs, then flush)."""

    def __init__(self, settings: Settings, publish: bool):
        self.batch_max = settings.batch_max_cdrs
        self.publisher = Publisher(settings.kafka_bootstrap, settings) if publish else None

    def send(self, records: list[dict]) -> None:
        if self.publisher is not None:
            self.publisher.send_cdrs("bench", records)
            return
        for i in range(0, len(records), self.batch_max):
            encode_batch("bench", records[i:i + self.batch_max])

    def flush(self) -> None:
        if self.publisher is not None:
            self.publisher.flush()


class _Clock:
    """Wall time and the process's CPU time (every thread: librdkafka compresses and sends on its own)."""

    def __init__(self):
        _untracked_inputs()
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, n: int) -> tuple[float, float]:
        """n per wall second, n per CPU second."""
        return n / (time.perf_counter() - self.wall), n / (time.process_time() - self.cpu)


def _parse_rate(fmt: str, cdrs: list[dict], out: _Envelopes) -> tuple[float, float]:
    """Parse stage of one format: sample-shaped lines → checked canonical CDRs → envelopes (see
    _Envelopes), (CDR/s, CDR per CPU second). The lines are read as the file source reads a file:
    chunks of whole lines, each parsed by parse_lines and sent in envelopes of batch_max CDRs."""
    first, lines = format_lines(fmt, cdrs)
    parser = parser_for(fmt)
    parser = parser.for_file(first) if hasattr(parser, "for_file") else parser
    ctx = SourceContext("bench", "bench.csv", ZoneInfo("UTC"))
    data = b"".join(lines)
    clock = _Clock()
    offset, parsed = 0, 0
    while offset < len(data):
        end = data.rfind(b"\n", offset, offset + CHUNK_BYTES) + 1 or len(data)
        records, failed = parse_lines(parser, data[offset:end].splitlines(keepends=True), offset, ctx)
        if failed:
            raise RuntimeError(f"{fmt}: bench line at {failed[0][0]} failed: {failed[0][2]}")
        out.send(records)
        parsed += len(records)
        offset = end
    out.flush()
    rates = clock.rates(len(lines))
    if parsed != len(lines):
        raise RuntimeError(f"{fmt}: {parsed} CDRs from {len(lines)} bench lines")
    return rates


def dbf_table(cdrs: list[dict]) -> bytes:
    """A WinTariff-style call table with one settled row per simulated CDR: outgoing, 30 s, from
    an extension (cdrflow/bench/dbf_writer.py writes it as the tests' tables)."""
    rows = [{"DATE": "20261120", "TIME": f"10:{i // 60 % 60:02d}:{i % 60:02d}", "CALLERID": "",
             "EXTENSION": str(100 + i % 900), "NUMBER": c["called_number"], "IDURATION": 30, "CALLTYPE": "mobile",
             "LINE": "L1"} for i, c in enumerate(cdrs)]
    return header(len(rows)) + b"".join(record(row) for row in rows) + b"\x1a"


def _dbf_parse_rate(cdrs: list[dict], out: _Envelopes) -> tuple[float, float]:
    """Parse stage of wintariff_dbf: table records → decoded fields → checked canonical CDRs →
    envelopes, read in chunks of records as dbf_source.py reads a table."""
    from cdrflow.producers.dbf_source import CHUNK_RECORDS, DbfTable

    parser = parser_for("wintariff_dbf")
    with tempfile.TemporaryDirectory(prefix="cdrflow-bench-") as tmp:
        path = Path(tmp) / "calls.dbf"
        path.write_bytes(dbf_table(cdrs))
        ctx = SourceContext("bench", str(path), ZoneInfo("UTC"))
        with open(path, "rb") as fh:
            clock = _Clock()
            table, parsed = DbfTable(path), 0
            for start in range(0, table.count(path.stat().st_size), CHUNK_RECORDS):
                records = []
                for recno, raw in table.read(fh, start, min(table.numrecords, start + CHUNK_RECORDS)):
                    record = table.decode(raw)
                    if not parser.settled(record):
                        raise RuntimeError(f"wintariff_dbf: bench record {recno} is not settled")
                    records.append(parser(record, recno, ctx))
                out.send(records)
                parsed += len(records)
            out.flush()
            rates = clock.rates(len(cdrs))
    if parsed != len(cdrs):
        raise RuntimeError(f"wintariff_dbf: {parsed} CDRs from {len(cdrs)} bench records")
    return rates


def _format_parse_rate(fmt: str, cdrs: int, settings: Settings, publish: bool) -> tuple[float, float]:
    calls = list(generate(default_config(settings, seed=7, calls_per_second=2000.0), count=cdrs))
    out = _Envelopes(settings, publish)
    return _dbf_parse_rate(calls, out) if fmt == "wintariff_dbf" else _parse_rate(fmt, calls, out)


def parse_stage(settings: Settings, cdrs: int, formats: tuple[str, ...] = PARSE_BENCH_FORMATS,
                publish: bool = False, runs: int = PARSE_BENCH_RUNS) -> dict:
    """Each format's parse stage over `cdrs` lines (or DBF records) made from simulated calls, the
    median of `runs` runs (this machine's speed varies by tens of percent from minute to minute):
    parse_F_cdr_per_s, parsed and encoded on one core; with `publish` also
    parse_publish_F_cdr_per_cpu_s, parsed and published to settings.kafka_bootstrap as the file
    source publishes, per CPU second of the producer process (its librdkafka threads included).
    Each run is a fresh process, as a producer reads one format: a run after another format's
    inherits its heap (after freeswitch_json's documents, ribbon_sbc ran ~35 % slower)."""
    figures = {}
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as pool:
        def median_rate(fmt: str, published: bool) -> float:
            return statistics.median(
                pool.submit(_format_parse_rate, fmt, cdrs, settings, published).result()[1 if published else 0]
                for _ in range(runs))

        for fmt in formats:
            figures[f"parse_{fmt}_cdr_per_s"] = median_rate(fmt, False)
            if publish:
                figures[f"parse_publish_{fmt}_cdr_per_cpu_s"] = median_rate(fmt, True)
    return figures


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
# calls per second of event time: 21,500 CDR/s of wall time, ~20,900 reached (two faults are vanished
# traffic); the replay must reach 20,000 for the figure, so the bench reports what it did
DETECTION_CPS = 2_150
# history first: the recent baseline ends 15-25 minutes before a minute judged (stream/detection.py
# Baselines) and needs min_baseline_minutes (20) of traffic; 45 gives it 21-30 at the onset
DETECTION_ONSET_MIN = 45
DETECTION_PACED_MIN = 3       # the minutes before the first onset are replayed paced too
# (interconnect, fault kind, onset second): staggered inside a minute, as real faults are
DETECTION_FAULTS = (("att", "answer_collapse", 7), ("lumen", "network_causes", 19), ("tmobile", "traffic_vanish", 31),
                    ("verizon", "answer_collapse", 43), ("bandwidth", "network_causes", 53),
                    ("dtag-intl", "traffic_vanish", 13))


def _detection_latency(settings: Settings, publisher: Publisher, worker: subprocess.Popen) -> dict:
    """Fault onset (event time) → incident open event, over simulated faults. The history is
    published flat out and stored first; the minutes around the faults are generated beforehand
    and replayed at DETECTION_SPEED × real time (DETECTION_CPS × speed CDR/s of wall time), so
    during them the machine runs the pipeline, not the simulator."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from cdrflow.producers.simulate import Fault, SimConfig, as_written, paced

    # a month ahead of the other stages' event time, so their rows are not this stage's baseline
    start = (int(time.time()) // 60 + 30 * 24 * 60) * 60_000
    onset = {ic: start + DETECTION_ONSET_MIN * 60_000 + second * 1000 for ic, _, second in DETECTION_FAULTS}
    faults = tuple(Fault(ic, kind, onset[ic], onset[ic] + 5 * 60_000) for ic, kind, _ in DETECTION_FAULTS)
    cfg = SimConfig(seed=23, start_ms=start, calls_per_second=DETECTION_CPS, interconnects=dict(settings.interconnects),
                    faults=faults, diurnal=False)
    end = start + (DETECTION_ONSET_MIN + 6) * 60_000
    replay_from = start + (DETECTION_ONSET_MIN - DETECTION_PACED_MIN) * 60_000
    written = (c for c in as_written(generate(cfg, until_ms=end)) if c["end_ms"] < end)
    replay: list[dict] = []

    def history():     # CDRs in end order: the ones written before replay_from, the rest kept aside
        for c in written:
            if c["end_ms"] < replay_from:
                yield c
            else:
                replay.append(c)
    # chunks of this many CDRs, split by source: envelopes of ~batch_max_cdrs, as a busy switch sends
    chunk = settings.batch_max_cdrs * len(cfg.sources)
    stored_before = _stats(settings)["cdrs_stored"]
    published = publish_stream(history(), publisher, chunk)
    _wait(lambda: _stats(settings)["cdrs_stored"] - stored_before >= published, 900, worker)
    # the rates the replay reached: published (the bench's own pace, on the same two cores), and
    # stored by the worker from the replay's start until its last CDR was in
    t0, stored_before, replay_from_ms = time.perf_counter(), _stats(settings)["cdrs_stored"], time.time() * 1000
    replayed = publish_stream(paced(replay, speed=DETECTION_SPEED, at="end_ms"), publisher, chunk, flush_every=4)
    publish_s = time.perf_counter() - t0
    _wait(lambda: _stats(settings)["cdrs_stored"] - stored_before >= replayed, 600, worker)
    stored_s = time.perf_counter() - t0
    ingest = _stats(settings, since_ms=replay_from_ms)
    published += replayed
    _wait(lambda: (_stats(settings) or {}).get("watermark_ms", 0) >= end - 60_000, 600, worker)

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"bench-{time.time_ns()}",
                         "enable.auto.commit": False})
    # assigned, not subscribed: no group join to wait for (one partition, see pipeline_topics)
    consumer.assign([TopicPartition(settings.topic_incidents, 0, OFFSET_BEGINNING)])
    opened: dict[str, int] = {}
    by_clock: dict[str, int] = {}       # the same decisions dated by the detector's clock alone
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
        # when it was decided, in event time: the detector's clock (updated_ms + lateness), or the
        # newest call of this interconnect it had absorbed if its partition was read further ahead
        clock = incident["updated_ms"] + int(settings.detection_lateness_s * 1000)
        detected = max(clock, incident.get("seen_ms") or 0)
        if ic not in onset or detected < onset[ic]:
            early = "" if ic not in onset else f" {(detected - onset[ic]) / 1000:.0f} s before its fault"
            false_positives.add(f'{ic}|{incident["direction"]} {"/".join(incident["kinds"])}' + early)
            continue
        key = f'{ic}|{incident["direction"]}'
        if key not in opened:       # the first open after the onset
            opened[key], by_clock[key] = detected - onset[ic], clock - onset[ic]
    consumer.close()
    lat, by_clock_s = sorted(v / 1000 for v in opened.values()), [v / 1000 for v in by_clock.values()]
    missed = sorted(ic for ic in onset if not any(k.startswith(ic + "|") for k in opened))

    def seconds(key: str) -> str:       # and by the clock where a partition read ahead moved it
        shown = f"{opened[key] / 1000:.0f}"
        return shown if by_clock[key] == opened[key] else f"{shown} (clock {by_clock[key] / 1000:.0f})"
    return {
        "detection_cdrs": published,
        "detection_paced_cdr_per_s": f"{DETECTION_CPS * DETECTION_SPEED:,} (published {replayed / publish_s:,.0f}, "
                                     f"stored {replayed / stored_s:,.0f} over {replayed:,} CDRs)",
        "detection_ingest_latency_p50_p95_ms": f'{ingest["latency_p50_ms"]:,.0f} / {ingest["latency_p95_ms"]:,.0f}',
        "detection_incidents_opened": f"{len(lat)} ({len(DETECTION_FAULTS)} faults × in/out)",
        "detection_latency_p50_s": percentile(lat, 0.5),
        "detection_latency_p95_s": percentile(lat, 0.95),
        "detection_latency_max_s": lat[-1] if lat else None,
        "detection_latency_by_clock_p50_p95_s": f"{percentile(by_clock_s, 0.5)} / {percentile(by_clock_s, 0.95)}",
        "detection_latency_by_fault_s": ", ".join(
            f"{ic} {kind}: "
            + "/".join(seconds(key) for key in (f"{ic}|in", f"{ic}|out") if key in opened)
            for ic, kind, _ in DETECTION_FAULTS),
        "detection_faults_missed": ", ".join(missed) or "none",
        "detection_false_positives": ", ".join(sorted(false_positives)) or "none",
    }


def run_bench(cdrs: int, partitions: int, console: Console, rate: float = 20_000, paced_s: float = 15,
              throughput: bool = True, detection: bool = True, parse: bool = True,
              runs: int = END_TO_END_RUNS) -> dict:
    figures: dict = {}
    if parse:
        with console.status(f"parse stage ({', '.join(PARSE_BENCH_FORMATS)}), then parse + publish …"), \
                LocalBroker() as broker:
            settings = Settings(kafka_bootstrap=broker.bootstrap)
            ensure_topics(broker.bootstrap, pipeline_topics(settings))
            figures.update(parse_stage(settings, min(cdrs, PARSE_BENCH_CDRS), publish=True))
    if throughput or detection:
        figures.update(_pipeline_bench(cdrs, partitions, console, rate, paced_s, throughput, detection, runs))
    _print_figures(figures, partitions, rate, console)
    return figures


def _pipeline_bench(cdrs: int, partitions: int, console: Console, rate: float, paced_s: float,
                    throughput: bool, detection: bool, runs: int) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="cdrflow-bench-") as tmp, LocalBroker() as broker:
        env = dict(os.environ, CDRFLOW_DATA_DIR=tmp, CDRFLOW_KAFKA_BOOTSTRAP=broker.bootstrap,
                   CDRFLOW_PARTITIONS=str(partitions), CDRFLOW_WORKER_WEB_PORT=str(free_port()))
        os.environ.update({k: env[k] for k in ("CDRFLOW_DATA_DIR", "CDRFLOW_KAFKA_BOOTSTRAP",
                                                 "CDRFLOW_PARTITIONS", "CDRFLOW_WORKER_WEB_PORT")})
        settings = Settings()
        ensure_topics(broker.bootstrap, pipeline_topics(settings))
        with console.status("cdrflow migrate …"):
            run_migrate(env, Path(tmp) / "migrate.log")
        publisher = Publisher(broker.bootstrap, settings)
        if throughput:
            with console.status(f"worker only: pre-filling the CDR topic with {cdrs:,} CDRs …"):
                prefill = _simulated(settings, seed=5, count=cdrs)
                figures["traffic_distinct_numbers"] = distinct_share(prefill)
                publish_stream(prefill, publisher, settings.batch_max_cdrs)
                del prefill
        worker = subprocess.Popen([sys.executable, "-m", "cdrflow", "worker"], env=env,
                                  stdout=open(Path(tmp) / "worker.log", "wb"), stderr=subprocess.STDOUT)
        try:
            if throughput:
                with console.status(f"worker only: the worker starts and drains {cdrs:,} CDRs …"):
                    figures.update(_worker_only(settings, worker, cdrs))
            else:
                with console.status("warming up: worker joins its group and stores a first batch …"):
                    _wait(lambda: _stats(settings) is not None, 120, worker)
                    warmup = _simulated(settings, seed=8, count=2_000)
                    publish_stream(warmup, publisher, settings.batch_max_cdrs)
                    _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) >= len(warmup), 120, worker)
            if throughput:
                figures.update(_throughput(settings, publisher, worker, cdrs, rate, paced_s, console, runs))
            if detection:
                with console.status(f"detection: {DETECTION_CPS * DETECTION_SPEED:,} CDR/s, "
                                    f"{len(DETECTION_FAULTS)} faults, event time ×{DETECTION_SPEED} …"):
                    figures.update(_detection_latency(settings, publisher, worker))
            figures["worker_peak_rss_mb"] = _stats(settings)["peak_rss_mb"]
        finally:
            worker.terminate()
            worker.wait(30)
    return figures


def _print_figures(figures: dict, partitions: int, rate: float, console: Console) -> None:
    table = Table("figure", "value", title=f"cdrflow bench — {partitions} partitions, {os.cpu_count()} cores")
    for name, value in figures.items():
        table.add_row(name, f"{value:,.1f}" if isinstance(value, float) and value < 100
                      else f"{value:,.0f}" if isinstance(value, (int, float)) else str(value))
    console.print(table)
    notes = {
        "parse_": f"parse = sample-shaped lines → checked wire records → encoded envelopes, on one core; "
                  f"parse_publish = the same envelopes published to a local Tansu broker (flushed), per CPU "
                  f"second of the producer process; each the median of {PARSE_BENCH_RUNS} runs in fresh processes",
        "traffic_": "traffic = the simulator's carrier traffic; distinct numbers per CDR in one stage's CDRs "
                    "(enrichment works once per distinct number: compare figures only on like shares)",
        "worker_only_": "worker only = a worker started on a topic pre-filled with the CDRs, from owning its "
                        "partitions (/ready) to the last stored, nothing else running; its CPU µs per CDR (all its "
                        "threads, chdb's included: the figure to compare on a busy machine) and its steps' µs "
                        "per CDR as its /stats reported them after that drain",
        "end_to_end_": "end to end = first CDR published → last CDR stored, producer and worker running together, "
                       "the median of the runs shown (fresh CDRs each run);\n"
                       f"latency = Kafka produce time → stored in ClickHouse per message, paced at {rate:,.0f} CDR/s;\n"
                       "latency stages = per take, ms from the mark before (the first from its oldest message's "
                       "produce time): taken by the worker's chain, prepared, its write started, stored, announced, "
                       "acknowledged",
        "detection_": "detection latency = fault onset → incident open event, in event time (the newest CDR end "
                      "the detector had seen), per interconnect and direction; by clock = the same decisions dated "
                      "by the detector's own clock (its judgement tick + lateness): the difference is how far one "
                      "CDR partition was read ahead of the slowest, at this replay's ×10 speed",
    }
    console.print(";\n".join(note for prefix, note in notes.items() if any(f.startswith(prefix) for f in figures)))


def _simulated(settings: Settings, seed: int, count: int) -> list[dict]:
    """`count` CDRs of the simulator's carrier traffic (its number mix); each seed its own calls and
    cdr_ids. In the order a switch writes them, when each call ends, as `cdrflow simulate` publishes
    them: in start order a take's CDRs would end over minutes of event time (a few long calls over
    hours), and the worker would send the detector partials and ticks for every 10-second step of that."""
    return list(as_written(generate(default_config(settings, seed=seed, calls_per_second=2000.0), count=count)))


def distinct_share(cdrs: list[dict]) -> str:
    """Distinct numbers per CDR: callers, callees, and either (enrichment normalises each distinct
    number once, so this share sets its cost as much as the CDR count does)."""
    callers = {c["calling_number"] for c in cdrs}
    callees = {c["called_number"] for c in cdrs}
    n = len(cdrs)
    return (f"{len(callers | callees) / n:.1%} of CDRs (callers {len(callers) / n:.1%}, callees "
            f"{len(callees) / n:.1%}; {n:,} CDRs)")


def _worker_only(settings: Settings, worker: subprocess.Popen, cdrs: int) -> dict:
    """The worker alone: started on a CDR topic already holding `cdrs` CDRs, from the moment it owns
    partitions (/ready) until all are stored, so neither the producer nor the process start counts;
    with its steps' µs per CDR as it reports them (/stats steps_us_per_cdr, when it has them)."""
    started = time.perf_counter()
    _wait(lambda: _ready(settings), 180, worker, poll_s=0.05)
    ready, cpu_ready = time.perf_counter(), _cpu_s(worker)
    _wait(_stored(settings, cdrs), 1800, worker)
    drained, cpu_drained = time.perf_counter(), _cpu_s(worker)
    stats = _stats(settings) or {}
    # the peak after the drain alone, told apart from the whole bench's (later stages may raise it)
    figures = {"worker_only_cdr_per_s": cdrs / (drained - ready), "worker_start_to_ready_s": ready - started,
               "worker_only_cpu_us_per_cdr": (cpu_drained - cpu_ready) / cdrs * 1e6,
               "worker_only_peak_rss_mb": stats.get("peak_rss_mb")}
    for step, us in (stats.get("steps_us_per_cdr") or {}).items():
        figures[f"worker_only_step_{step}_us_per_cdr"] = us
    return figures


def _cpu_s(worker: subprocess.Popen) -> float:
    """CPU seconds the worker process has used, all its threads (chdb's included): unlike CDR/s,
    CPU per CDR barely moves when other work shares the machine."""
    times = psutil.Process(worker.pid).cpu_times()
    return times.user + times.system


def _throughput(settings: Settings, publisher: Publisher, worker: subprocess.Popen, cdrs: int, rate: float,
                paced_s: float, console: Console, runs: int) -> dict:
    with console.status(f"latency: {rate:,.0f} CDR/s paced for {paced_s:.0f} s …"):
        paced_cdrs = _simulated(settings, seed=9, count=int(rate * paced_s))
        before, paced_from_ms = _stats(settings)["cdrs_stored"], time.time() * 1000
        _publish_paced(paced_cdrs, publisher, settings.batch_max_cdrs, rate)
        _wait(lambda: (_stats(settings) or {}).get("cdrs_stored", 0) - before >= len(paced_cdrs), 600, worker)
        latency = _stats(settings, since_ms=paced_from_ms)
    generate_rates, produce_rates, end_to_end_rates = [], [], []
    for run in range(runs):
        with console.status(f"end to end, run {run + 1} of {runs}: generating {cdrs:,} simulated CDRs …"):
            t0 = time.perf_counter()
            batch = _simulated(settings, seed=7 + 10 * run, count=cdrs)      # fresh calls: none is a duplicate
            generate_rates.append(cdrs / (time.perf_counter() - t0))
        with console.status(f"end to end, run {run + 1} of {runs}: publishing {cdrs:,} CDRs flat out while the "
                            "worker stores them …"):
            before = _stats(settings)["cdrs_stored"]
            t_start = time.perf_counter()
            publish_stream(batch, publisher, settings.batch_max_cdrs)
            produce_rates.append(cdrs / (time.perf_counter() - t_start))
            _wait(_stored(settings, before + cdrs), 1800, worker)
            end_to_end_rates.append(cdrs / (time.perf_counter() - t_start))
        del batch
    return {
        "cdrs": cdrs,
        "simulate_cdr_per_s": statistics.median(generate_rates),
        "produce_cdr_per_s": statistics.median(produce_rates),
        "end_to_end_cdr_per_s": statistics.median(end_to_end_rates),
        "end_to_end_runs_cdr_per_s": " · ".join(f"{r:,.0f}" for r in end_to_end_rates),
        f"latency_p50_ms_at_{rate:.0f}_cdr_per_s": latency["latency_p50_ms"],
        f"latency_p95_ms_at_{rate:.0f}_cdr_per_s": latency["latency_p95_ms"],
        "latency_stages_p50_p95_ms": " · ".join(
            f'{mark} {ms["p50"]:,.0f}/{ms["p95"]:,.0f}' for mark, ms in latency.get("latency_stages_ms", {}).items()),
    }


def _stored(settings: Settings, count: int):
    """A predicate: the worker has stored `count` CDRs since it started."""
    return lambda: (_stats(settings) or {}).get("cdrs_stored", 0) >= count


def _ready(settings: Settings) -> bool:
    """The worker owns partitions and ClickHouse answers (its /ready page)."""
    try:
        return bool((worker_request(settings, "/ready", timeout_s=5) or {}).get("ready"))
    except QueryError:
        return False


def _stats(settings: Settings, since_ms: float | None = None) -> dict | None:
    """The worker's /stats; since_ms: its latency figures over the messages produced from then on
    (the worker keeps recent messages' latencies, which include the stage before)."""
    try:
        return worker_request(settings, "/stats" if since_ms is None else f"/stats?since_ms={since_ms:.0f}",
                              timeout_s=5)
    except QueryError:
        return None


def _wait(predicate, timeout_s: float, worker: subprocess.Popen, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark stage timed out")
        time.sleep(poll_s)
