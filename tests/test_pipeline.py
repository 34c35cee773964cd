"""End to end on real components: files → producer → Tansu → Faust worker → embedded ClickHouse."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from cdrflow.infra.kafka_admin import consumer_lag
from cdrflow.producers.checkpoint import CheckpointStore

from support.files import SAMPLES, asterisk_line, write_asterisk_file
from support.kafka import read_topic
from support.worker import query

SAMPLE = SAMPLES / "asterisk_cdr_csv" / "cdrcsv-report-generator_cdr.csv"
# Counted from the sample with awk: 218 lines, 133 with disposition ANSWERED. The switch's verdict
# decides: the 5 NO ANSWER rows that carry an answer time (an IVR answered the caller) are not
# answered calls (see test_asterisk_csv).
SAMPLE_RECORDS, SAMPLE_ANSWERED = 218, 133


def ingest(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cdrflow", "ingest", *args], env=dict(os.environ),
                          capture_output=True, text=True, timeout=300, check=True)


def stored(settings) -> tuple[int, int]:
    """(rows, distinct cdr_ids) as stored — no FINAL, so a duplicate insert would show."""
    return tuple(query(settings, "SELECT count(), uniqExact(cdr_id) FROM cdrflow.cdr")[0])


def test_sample_file_with_malformed_lines(settings, worker, tmp_path):
    source_file = tmp_path / "Master.csv"
    shutil.copy(SAMPLE, source_file)
    good_size = source_file.stat().st_size
    short_line = b'"only","three","columns"\n'
    with open(source_file, "ab") as fh:
        fh.write(short_line)
        fh.write(b'"","1","2","ctx","clid","SIP/a-1","SIP/b-2","Dial","x","not a time","","2017-06-20 09:49:32",'
                 b'1,0,"NO ANSWER","DOCUMENTATION","1.1",""\n')
    worker.start()
    result = ingest(str(source_file), "--source", "pbx-sample")
    assert "218 CDRs published, 2 dead letters" in result.stdout

    worker.wait_for(lambda s: s["cdrs_stored"] >= SAMPLE_RECORDS)
    worker.settle()
    assert stored(settings) == (SAMPLE_RECORDS, SAMPLE_RECORDS)
    answered = query(settings, "SELECT countIf(answer_time IS NOT NULL), countIf(cause_class = 'answered') "
                               "FROM cdrflow.cdr")[0]
    assert answered == [SAMPLE_ANSWERED, SAMPLE_ANSWERED]

    letters = [orjson.loads(v) for v in read_topic(settings.kafka_bootstrap, settings.topic_dead_letter, expect=2)]
    assert len(letters) == 2
    assert all(letter["stage"] == "parse" and letter["source"] == "pbx-sample" for letter in letters)
    assert letters[0]["position"] == f"{source_file}:{good_size}"
    assert "column" in letters[0]["reason"]
    assert letters[1]["position"] == f"{source_file}:{good_size + len(short_line)}"
    assert "time" in letters[1]["reason"].lower()


def test_producer_killed_mid_file_then_reread_gives_exactly_n(settings, worker, tmp_path):
    source_file = tmp_path / "Master.csv"
    n = 60_000
    answered = write_asterisk_file(source_file, n)
    checkpoint_file = settings.resolved_data_dir / "checkpoints" / "pbx-1.json"

    producer = subprocess.Popen([sys.executable, "-m", "cdrflow", "ingest", str(source_file), "--source", "pbx-1"],
                                env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not checkpoint_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    producer.send_signal(signal.SIGKILL)
    producer.wait()
    partial = next(iter(CheckpointStore(checkpoint_file).entries.values()))["offset"]
    assert 0 < partial < source_file.stat().st_size, "the producer must be killed mid-file"

    ingest(str(source_file), "--source", "pbx-1")           # resumes from the checkpoint
    checkpoint_file.unlink()
    ingest(str(source_file), "--source", "pbx-1")           # re-reads the whole file

    worker.start()
    worker.wait_for(lambda s: s["cdrs_in"] >= 2 * n)
    stats = worker.settle()
    assert stored(settings) == (n, n)
    assert stats["duplicates_skipped"] >= n                  # the whole re-read was recognised
    assert query(settings, "SELECT countIf(cause_class = 'answered') FROM cdrflow.cdr")[0][0] == answered


def test_worker_killed_mid_stream_then_restarted_gives_exactly_n(settings, worker, tmp_path, monkeypatch):
    monkeypatch.setenv("CDRFLOW_WORKER_TAKE", "2")           # small inserts, so a kill lands mid-stream
    monkeypatch.setenv("CDRFLOW_BATCH_MAX_CDRS", "200")
    source_file = tmp_path / "Master.csv"
    n = 40_000
    write_asterisk_file(source_file, n)
    ingest(str(source_file), "--source", "pbx-2")

    worker.start()
    before = worker.wait_for(lambda s: s["cdrs_stored"] > 0)
    worker.kill()
    assert before["cdrs_stored"] < n, "the worker must be killed mid-stream"
    worker.start()
    after = worker.settle()
    assert stored(settings) == (n, n)
    # what the restarted worker stored is exactly what the killed one had not
    assert after["cdrs_stored"] <= n - before["cdrs_stored"]


def test_a_failing_write_is_retried_with_backoff_and_nothing_is_acknowledged_before_it_succeeds(
        settings, worker, tmp_path):
    """The cdr table detached (every write of CDRs fails, as with a ClickHouse that is gone): the
    worker keeps its take, retries after 1, 2, 4 … s, and stores it once the table is back.
    tests/faults/test_write_faults.py holds the 60 s version under `cdrflow up`."""
    worker.start()
    query(settings, "DETACH TABLE cdrflow.cdr")
    shutil.copy(SAMPLE, tmp_path / "Master.csv")
    ingest(str(tmp_path / "Master.csv"), "--source", "pbx-outage")
    failing = worker.wait_for(lambda s: s["write_failures"] >= 3, timeout_s=60)
    assert "UNKNOWN_TABLE" in failing["write_error"]
    assert failing["messages"] == failing["cdrs_stored"] == 0         # nothing acknowledged
    assert consumer_lag(settings.kafka_bootstrap, "cdrflow", settings.topic_cdr_batches) > 0
    time.sleep(2)   # retries now wait 4 s or more: at most one more failure in 2 s (without backoff: dozens)
    assert worker.stats()["write_failures"] - failing["write_failures"] <= 1
    query(settings, "ATTACH TABLE cdrflow.cdr")
    stats = worker.settle()
    assert stored(settings) == (SAMPLE_RECORDS, SAMPLE_RECORDS)
    assert stats["write_error"] is None and stats["cdrs_stored"] == SAMPLE_RECORDS
    assert "retrying in 4 s" in worker.log.read_text()


@pytest.mark.parametrize("settings", [{"CDRFLOW_RETENTION_DAYS": "400"}], indirect=True)
def test_a_cdr_older_than_the_retention_window_is_a_dead_letter_not_a_stored_row(settings, worker, tmp_path):
    """Stored, it would be counted and then dropped by the table's TTL at the next merge, unseen."""
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%d").encode()
    source_file = tmp_path / "Master.csv"
    source_file.write_bytes(asterisk_line(1).replace(b"2026-11-20", b"2017-06-20")
                            + asterisk_line(2).replace(b"2026-11-20", yesterday))
    worker.start()
    ingest(str(source_file), "--source", "pbx-old")
    worker.wait_for(lambda s: s["cdrs_in"] + s["dead_letters"] >= 2)
    stats = worker.settle()
    assert stored(settings) == (1, 1)
    assert query(settings, "SELECT call_id FROM cdrflow.cdr")[0][0] == "1795000000.2"
    assert stats["cdrs_stored"] == 1 and stats["dead_letters"] == 1
    letters = [orjson.loads(v) for v in read_topic(settings.kafka_bootstrap, settings.topic_dead_letter, expect=1)]
    assert [(letter["stage"], letter["reason"], letter["source"]) for letter in letters] == [
        ("retention", "starts before the retention window of 400 days", "pbx-old")]
    assert letters[0]["position"] == f"{source_file}:0"


@pytest.mark.parametrize(("settings", "one_envelope_per_take"), [
    ({"CDRFLOW_BATCH_MAX_CDRS": "100", "CDRFLOW_WORKER_TAKE_MB": "0.001"}, True),    # 1 KB: each envelope alone
    ({"CDRFLOW_BATCH_MAX_CDRS": "100"}, False),
], indirect=["settings"])
def test_a_take_over_worker_take_mb_goes_through_in_parts_each_stored_once(
        settings, worker, tmp_path, one_envelope_per_take):
    """A backlog is read in takes of up to worker_take messages; past worker_take_mb of envelopes
    the worker cuts a take into parts, each written and acknowledged in turn."""
    source_file = tmp_path / "Master.csv"
    n = 3_000
    write_asterisk_file(source_file, n)
    ingest(str(source_file), "--source", "pbx-parts")      # a backlog before the worker starts
    worker.start()
    stats = worker.settle()
    assert stored(settings) == (n, n)
    assert stats["messages"] == n // 100 and stats["cdrs_stored"] == n
    assert (stats["takes"] == stats["messages"]) is one_envelope_per_take
    assert consumer_lag(settings.kafka_bootstrap, "cdrflow", settings.topic_cdr_batches) == 0
