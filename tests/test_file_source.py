"""FileSource on a real broker: tailing, rotation by rename and by copytruncate, restart from the
checkpoint, dead letters, and a broker that stops acknowledging.

Every test drives `poll()` step by step and then reads the topic back, so "exactly once" is
checked on what the broker holds: each line's call_id once, at the byte offset it has in its file
(computed here from the bytes written, not by the source).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from cdrflow.producers import file_source as file_source_module
from cdrflow.producers.checkpoint import CheckpointStore
from cdrflow.producers.file_source import FileSource, SourceStats
from cdrflow.producers.formats import parser_for
from cdrflow.producers.heartbeat import Heartbeat, heartbeat_age_s
from cdrflow.producers.publisher import DeliveryFailed, Publisher
from confluent_kafka import KafkaException

from support.file_source import SOURCE, UTC, Harness
from support.files import asterisk_line, write_asterisk_file
from support.kafka import read_all


def line(i: int) -> bytes:
    """Line i exactly as write_asterisk_file writes it."""
    return asterisk_line(i, answered=i % 3 != 0)


def call_id(i: int) -> str:
    """The uniqueid line(i) carries, which the parser reports as call_id."""
    return f"1795000000.{i}"


def offsets(indices) -> dict[str, int]:
    """call_id → byte offset of line(i) for the given lines written in this order."""
    out, offset = {}, 0
    for i in indices:
        out[call_id(i)] = offset
        offset += len(line(i))
    return out


def size_of(indices) -> int:
    return sum(len(line(i)) for i in indices)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def identity(path: Path) -> str:
    st = path.stat()
    return f"{st.st_dev}:{st.st_ino}"


def assert_exactly_once(cdrs: list[dict], expected: dict[str, int]) -> None:
    repeated = {cid: n for cid, n in Counter(c["call_id"] for c in cdrs).items() if n > 1}
    assert not repeated, f"published more than once: {repeated}"
    assert len({c["cdr_id"] for c in cdrs}) == len(cdrs)
    assert {c["call_id"]: c["source_offset"] for c in cdrs} == expected


@pytest.fixture
def harness(settings, tmp_path):
    h = Harness(settings, tmp_path)
    yield h
    h.close()


@pytest.fixture
def cdr_dir(tmp_path) -> Path:
    path = tmp_path / "cdr-csv"
    path.mkdir()
    return path


def test_tailing_publishes_a_partial_line_only_once_its_newline_arrives(harness, cdr_dir):
    master = cdr_dir / "Master.csv"
    (cdr_dir / "notes.txt").write_bytes(b"not a CDR\n")   # outside the pattern: never read
    source = harness.source(cdr_dir, pattern="*.csv")
    assert source.poll() == 0

    write_asterisk_file(master, 3, first=0)
    assert source.poll() == size_of(range(3))

    line5 = line(5)
    append(master, line(3) + line(4) + line5[:40])
    assert source.poll() == size_of([3, 4])               # the half-written line waits
    assert source.checkpoints.offset(identity(master)) == size_of(range(5))

    append(master, line5[40:-1])                          # all of it but the newline
    assert source.poll() == 0
    assert source.stats.cdrs == 5

    append(master, b"\n" + line(6))
    assert source.poll() == len(line5) + len(line(6))
    assert source.poll() == 0

    cdrs = harness.published()
    assert_exactly_once(cdrs, offsets(range(7)))
    assert {c["source_file"] for c in cdrs} == {str(master)}
    assert (source.stats.lines, source.stats.cdrs, source.stats.dead_letters) == (7, 7, 0)
    assert source.stats.bytes == master.stat().st_size
    assert CheckpointStore(harness.checkpoint_path).offset(identity(master)) == master.stat().st_size


def test_rename_rotation_reads_the_rotated_tail_and_the_new_file_exactly_once(harness, cdr_dir):
    master, rotated = cdr_dir / "Master.csv", cdr_dir / "Master.csv.1"
    source = harness.source(cdr_dir)
    write_asterisk_file(master, 4, first=0)
    assert source.poll() == size_of(range(4))
    old_id = identity(master)

    write_asterisk_file(master, 3, first=4)               # not read before the rotation
    line7 = line(7)
    switch = open(master, "ab")                           # a writer holding the file open, mid-line
    switch.write(line7[:30])
    switch.flush()
    master.rename(rotated)
    write_asterisk_file(master, 5, first=100)
    switch.write(line7[30:])                              # lands in the file it had open: Master.csv.1
    switch.close()

    assert source.poll() == size_of(range(4, 8)) + size_of(range(100, 105))
    assert source.poll() == 0

    cdrs = harness.published()
    assert_exactly_once(cdrs, {**offsets(range(8)), **offsets(range(100, 105))})
    files = {c["call_id"]: c["source_file"] for c in cdrs}
    assert {files[call_id(i)] for i in range(4, 8)} == {str(rotated)}
    assert {files[call_id(i)] for i in range(100, 105)} == {str(master)}
    saved = CheckpointStore(harness.checkpoint_path).entries
    # acknowledged counts as kept on a broker that keeps its log (no confirmations here)
    assert saved == {old_id: {"path": str(rotated), "offset": rotated.stat().st_size, "stored": rotated.stat().st_size},
                     identity(master): {"path": str(master), "offset": master.stat().st_size,
                                        "stored": master.stat().st_size}}


def test_copytruncate_rereads_the_rewritten_file_from_offset_zero(harness, cdr_dir):
    master = cdr_dir / "Master.csv"
    source = harness.source(cdr_dir, pattern="Master.csv")
    write_asterisk_file(master, 5, first=0)
    assert source.poll() == size_of(range(5))

    # logrotate copytruncate: copy aside (outside the pattern), truncate the same inode in place
    shutil.copyfile(master, cdr_dir / "Master.csv.1")
    inode = identity(master)
    os.truncate(master, 0)
    assert source.poll() == 0
    # … and the switch writes more than was there before the next poll
    write_asterisk_file(master, 8, first=200)
    assert identity(master) == inode
    assert source.poll() == size_of(range(200, 208))

    # truncated and rewritten (shorter) between two polls
    os.truncate(master, 0)
    write_asterisk_file(master, 2, first=300)
    assert source.poll() == size_of(range(300, 302))
    assert source.poll() == 0

    cdrs = harness.published()
    assert_exactly_once(cdrs, {**offsets(range(5)), **offsets(range(200, 208)), **offsets(range(300, 302))})
    assert CheckpointStore(harness.checkpoint_path).offset(inode) == size_of(range(300, 302))


def test_restart_resumes_from_the_checkpoint_even_across_a_rotation(harness, cdr_dir):
    master, rotated = cdr_dir / "Master.csv", cdr_dir / "Master.csv.1"
    first = harness.source(cdr_dir)
    write_asterisk_file(master, 6, first=0)
    line6 = line(6)
    append(master, line6[:50])
    assert first.poll() == size_of(range(6))
    first.publisher.close()

    # while no producer runs, the switch finishes its line, writes more, and rotates
    append(master, line6[50:])
    write_asterisk_file(master, 2, first=7)
    master.rename(rotated)
    write_asterisk_file(master, 3, first=50)

    second = harness.source(cdr_dir)                     # a fresh store loaded from the same file
    assert second.checkpoints.offset(identity(rotated)) == size_of(range(6))
    assert second.poll() == size_of(range(6, 9)) + size_of(range(50, 53))
    assert second.poll() == 0
    assert second.stats.cdrs == 6

    assert_exactly_once(harness.published(), {**offsets(range(9)), **offsets(range(50, 53))})


def test_malformed_lines_become_dead_letters_and_do_not_stop_the_file(harness, settings, cdr_dir):
    master = cdr_dir / "Master.csv"
    good = line(2)
    start = b'"2026-11-20 10:00:00"'
    assert start in good
    short = b'"only","three","columns"\n'
    bad_time = good.replace(start, b'"not a time"', 1).replace(b"1795000000.2", b"1795000000.9")
    bad_csv = b'"a"b","c"\n'
    lines = [line(0), short, b"\n", bad_time, bad_csv, good]
    master.write_bytes(b"".join(lines))
    at = [sum(map(len, lines[:k])) for k in range(len(lines))]

    source = harness.source(cdr_dir)
    assert source.poll() == master.stat().st_size
    assert source.checkpoints.offset(identity(master)) == master.stat().st_size

    letters = sorted(
        (orjson.loads(v) for v in read_all(settings.kafka_bootstrap, settings.topic_dead_letter, expect=3)),
        key=lambda d: int(d["position"].rpartition(":")[2]))
    assert [(d["position"], d["raw"]) for d in letters] == [
        (f"{master}:{at[1]}", short.decode().rstrip("\n")),
        (f"{master}:{at[3]}", bad_time.decode().rstrip("\n")),
        (f"{master}:{at[4]}", bad_csv.decode().rstrip("\n")),
    ]
    assert all(d["stage"] == "parse" and d["source"] == SOURCE and d["source_format"] == "asterisk_csv"
               for d in letters)
    assert letters[0]["reason"] == "expected 18-21 columns, got 3"
    assert letters[1]["reason"].startswith("bad timestamp 'not a time'")
    assert letters[2]["reason"].startswith("bad CSV")

    stats = source.stats
    assert (stats.lines, stats.cdrs, stats.dead_letters) == (6, 2, 3)   # the blank line is no record
    assert sum(stats.reasons.values()) == 3
    assert stats.reasons["expected 18-21 columns, got 3"] == 1
    assert stats.reasons["bad CSV"] == 1
    assert_exactly_once(harness.published(), {call_id(0): at[0], call_id(2): at[5]})


def test_a_poll_the_broker_does_not_acknowledge_raises_and_keeps_the_checkpoint(broker, settings, tmp_path, cdr_dir):
    master = cdr_dir / "Master.csv"
    checkpoint_path = tmp_path / "checkpoints" / f"{SOURCE}.json"
    publisher = Publisher(settings.kafka_bootstrap, settings)
    source = FileSource(source=SOURCE, paths=[cdr_dir], parser=parser_for("asterisk_csv"), publisher=publisher,
                        checkpoints=CheckpointStore(checkpoint_path), timezone=UTC)
    write_asterisk_file(master, 3, first=0)
    assert source.poll() == size_of(range(3))
    saved = checkpoint_path.read_bytes()

    write_asterisk_file(master, 2, first=3)
    # The real flush against a stopped broker, only with a wait shorter than its 60 s default.
    publisher.flush = functools.partial(Publisher.flush, publisher, timeout_s=1.0)
    broker.stop()
    with pytest.raises((DeliveryFailed, KafkaException)):
        source.poll()

    assert checkpoint_path.read_bytes() == saved
    assert source.checkpoints.offset(identity(master)) == size_of(range(3))
    assert CheckpointStore(checkpoint_path).offset(identity(master)) == size_of(range(3))
    assert source.stats.cdrs == 3
    with pytest.raises((DeliveryFailed, KafkaException)):   # and it stays unacknowledged
        source.poll()
    assert checkpoint_path.read_bytes() == saved

    # Undelivered messages keep the producer (and its reconnect attempts) alive until their
    # 300 s message timeout; drop them so it goes with this test.
    publisher._producer.purge()
    publisher._producer.poll(0)


def test_rotation_while_a_file_is_read_in_chunks_keeps_to_the_file_being_read(harness, cdr_dir, monkeypatch):
    """A large backlog is read chunk by chunk; if the switch rotates in between, the rest of the
    backlog is in Master.csv.1, and the new Master.csv must not be read at the old file's offset."""
    monkeypatch.setattr(file_source_module, "CHUNK_BYTES", 4 * len(line(0)))
    master, rotated = cdr_dir / "Master.csv", cdr_dir / "Master.csv.1"
    write_asterisk_file(master, 12, first=0)

    def rotate_once(stats: SourceStats) -> None:
        if not rotated.exists():
            master.rename(rotated)
            write_asterisk_file(master, 12, first=100)

    source = harness.source(cdr_dir, after_chunk=rotate_once)
    assert source.poll() == size_of(range(12))           # all of the file it started on
    assert rotated.exists()
    assert source.poll() == size_of(range(100, 112))     # then the new one, from 0
    assert source.poll() == 0

    assert source.stats.dead_letters == 0
    assert_exactly_once(harness.published(), {**offsets(range(12)), **offsets(range(100, 112))})


def test_a_deleted_file_is_forgotten_in_the_checkpoint_file_too(harness, cdr_dir):
    """A restarted source must not hand a deleted file's offset to a new file that reuses its inode."""
    oldest, master = cdr_dir / "Master.csv.5", cdr_dir / "Master.csv"
    write_asterisk_file(oldest, 3, first=0)
    write_asterisk_file(master, 2, first=10)
    source = harness.source(cdr_dir)
    source.poll()
    gone = identity(oldest)
    assert gone in CheckpointStore(harness.checkpoint_path).entries

    oldest.unlink()                                       # logrotate drops the oldest rotation
    assert source.poll() == 0
    assert gone not in source.checkpoints.entries
    assert set(CheckpointStore(harness.checkpoint_path).entries) == {identity(master)}


# --- formats with per-file state (parsing.FileParser) ---------------------------------------

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples"


def test_header_format_resumes_mid_file_with_the_header_read_again(harness, cdr_dir):
    # the CUCM sample: header, type row, 3 records (its last line lacks a newline: added here)
    header, types, *records = (SAMPLES / "cisco_cucm" / "cucm15_lab_cdr.txt").read_bytes().splitlines()
    cdr_file = cdr_dir / "cdr_StandAloneCluster_02_202504181632_1"
    cdr_file.write_bytes(b"\n".join([header, types, *records[:2]]) + b"\n")
    assert harness.source(cdr_dir, format="cisco_cucm").poll() == cdr_file.stat().st_size

    append(cdr_file, records[2] + b"\n")
    restarted = harness.source(cdr_dir, format="cisco_cucm")   # a new process: no header in memory
    assert restarted.poll() == len(records[2]) + 1
    cdrs = sorted(harness.published(), key=lambda c: c["source_offset"])  # batches may land on any partition
    assert [c["native_id"] for c in cdrs] == ["bde20536-1250-4382-af5b-3107ef569ae3",
                                              "0a649c5c-7d37-4bb4-a50f-b8b87c109d0f",
                                              "ed56fecd-bd2d-48d4-ae03-7ee3766d6048"]
    assert cdrs[2]["billable_ms"] == 11_000 and restarted.stats.dead_letters == 0


def test_grouping_format_checkpoints_at_the_oldest_open_call(harness, cdr_dir):
    header = (SAMPLES / "kamailio_acc" / "dsiprouter_acc.csv").read_bytes().splitlines(keepends=True)[0]

    def acc_row(method: str, code: int, time: str, call_id: str) -> bytes:
        return f"1,{method},ft,tt,{call_id},{code},x,{time},10.0.0.1,100,100,d,200,d,0,,1,2\n".encode()

    acc = cdr_dir / "acc.csv"
    invite = acc_row("INVITE", 200, "2025-01-01 10:00:00", "answered")
    acc.write_bytes(header + invite + acc_row("INVITE", 486, "2025-01-01 10:00:05", "busy"))
    source = harness.source(cdr_dir, format="kamailio_acc")
    source.poll()
    assert source.stats.cdrs == 1                                   # the busy call; the answered one is open
    assert source.checkpoints.offset(identity(acc)) == len(header)  # held at the open INVITE
    assert source.poll() == 0                                       # and not fed twice while running

    append(acc, acc_row("BYE", 200, "2025-01-01 10:01:00", "answered"))
    restarted = harness.source(cdr_dir, format="kamailio_acc")      # after a crash: reads from the INVITE
    restarted.poll()
    assert restarted.checkpoints.offset(identity(acc)) == acc.stat().st_size

    unfinished = cdr_dir / "acc.csv.1"
    unfinished.write_bytes(header + acc_row("INVITE", 200, "2025-01-01 11:00:00", "no-bye"))
    restarted.run(follow=False)                                     # a one-shot run drains open calls
    assert restarted.checkpoints.offset(identity(unfinished)) == unfinished.stat().st_size

    cdrs = harness.published()
    # the busy call was read twice (before and after the restart) under one cdr_id: dedup drops it
    assert Counter(c["call_id"] for c in cdrs) == {"busy": 2, "answered": 1, "no-bye": 1}
    assert len({c["cdr_id"] for c in cdrs if c["call_id"] == "busy"}) == 1
    by_call = {c["call_id"]: c for c in cdrs}
    assert (by_call["answered"]["billable_ms"], by_call["answered"]["source_offset"]) == (60_000, len(header))
    assert by_call["no-bye"]["billable_ms"] == 0 and by_call["no-bye"]["answer_ms"] is not None


def test_last_line_without_newline_is_read_at_the_end_of_a_one_shot_run_only(harness, cdr_dir):
    # the CUCM sample as CUCM wrote it: its last record has no final newline
    sample = (SAMPLES / "cisco_cucm" / "cucm15_lab_cdr.txt").read_bytes()
    assert not sample.endswith(b"\n")
    cdr_file = cdr_dir / "cdr_StandAloneCluster_02_202504181632_1"
    cdr_file.write_bytes(sample)
    last = sample.rfind(b"\n") + 1

    following = harness.source(cdr_dir, format="cisco_cucm")
    assert following.poll() == last                     # following: the writer may be mid-line
    assert following.stats.cdrs == 2

    one_shot = harness.source(cdr_dir, format="cisco_cucm")   # resumes from the checkpoint …
    one_shot.run(follow=False)                                # … and reads the closed file to its end
    assert (one_shot.stats.cdrs, one_shot.stats.dead_letters) == (1, 0)
    assert one_shot.checkpoints.offset(identity(cdr_file)) == len(sample)
    assert one_shot.poll(final=True) == 0                     # read once

    cdrs = sorted(harness.published(), key=lambda c: c["source_offset"])  # batches may land on any partition
    assert [(c["native_id"], c["source_offset"]) for c in cdrs] == [
        ("bde20536-1250-4382-af5b-3107ef569ae3", 4577), ("0a649c5c-7d37-4bb4-a50f-b8b87c109d0f", 5168),
        ("ed56fecd-bd2d-48d4-ae03-7ee3766d6048", last)]


def test_following_reads_an_unterminated_file_once_it_is_quiet(harness, cdr_dir):
    # mod_json_cdr writes one unformatted document per file, without a final newline
    fixture = (Path(__file__).resolve().parent / "fixtures" / "freeswitch"
               / "a_a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d.cdr.json")
    leg = cdr_dir / fixture.name
    leg.write_bytes(fixture.read_bytes())
    source = harness.source(cdr_dir, pattern="*.cdr.json", format="freeswitch_json")
    assert source.poll() == 0                               # just written: it may still grow
    quiet = time.time() - source.unterminated_after_s - 1
    os.utime(leg, (quiet, quiet))
    assert source.poll() == leg.stat().st_size
    assert source.poll() == 0
    cdrs = harness.published()
    assert [(c["native_id"], c["billable_ms"]) for c in cdrs] == [("a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d", 60_500)]


# --- liveness (the chart's exec probe) ----------------------------------------------------

def test_the_heartbeat_beats_only_after_acknowledged_polls_and_the_probe_reads_it(broker, settings, tmp_path, cdr_dir):
    beat_file = tmp_path / "heartbeat" / SOURCE
    publisher = Publisher(settings.kafka_bootstrap, settings)
    source = FileSource(source=SOURCE, paths=[cdr_dir], parser=parser_for("asterisk_csv"), publisher=publisher,
                        checkpoints=CheckpointStore(tmp_path / "checkpoints.json"), timezone=UTC,
                        heartbeat=Heartbeat(beat_file))
    write_asterisk_file(cdr_dir / "Master.csv", 3, first=0)
    probe = [str(Path(sys.executable).parent / "cdrflow"), "probe", str(beat_file), "--max-age", "120"]
    assert subprocess.run(probe, capture_output=True).returncode == 1     # no poll yet: not alive

    polls = iter(range(2))
    source.run(follow=True, interval_s=0.01, stop=lambda: next(polls, None) is None)
    assert heartbeat_age_s(beat_file) < 5
    assert subprocess.run(probe, capture_output=True).returncode == 0

    os.utime(beat_file, (time.time() - 300, time.time() - 300))          # a loop stuck for 5 minutes
    stale = subprocess.run(probe, capture_output=True, text=True)
    assert stale.returncode == 1 and "stopped polling" in stale.stdout + stale.stderr

    # a poll the broker does not acknowledge raises before the beat
    write_asterisk_file(cdr_dir / "Master.csv", 2, first=3)
    publisher.flush = functools.partial(Publisher.flush, publisher, timeout_s=1.0)
    broker.stop()
    with pytest.raises((DeliveryFailed, KafkaException)):
        source.run(follow=True, interval_s=0.01, stop=lambda: True)
    assert heartbeat_age_s(beat_file) > 250
    publisher._producer.purge()
    publisher._producer.poll(0)
