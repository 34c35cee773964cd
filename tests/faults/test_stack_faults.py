"""The fault matrix (docs/reliability.md): `cdrflow up --ingest DIR` on 600,000 Asterisk lines with
its embedded Tansu broker (memory only) and chdb, stopped, signalled or killed mid-ingest, then
started again and left to settle. Each scenario must end with every CDR stored exactly once and
nothing running. Heavy (minutes each): marked `faults`, which the plain `pytest` run deselects;
`.ci/run` runs them with `pytest -m faults tests/faults`. Each test prints its matrix row."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from support.stack import Up, checkpoint, leftovers, raw_counts, stored_counts, stored_to_end, switch_dir, words

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]

LINES = 600_000


@pytest.fixture(scope="module")
def cdr_dir(tmp_path_factory) -> Path:
    """One Master.csv of LINES lines, shared read-only by the scenarios (each has its own data dir)."""
    return switch_dir(tmp_path_factory, LINES)


def mid_ingest(up: Up, timeout_s: float = 240) -> None:
    """Waits until the worker stores CDRs, then a moment more: part of the file, not all of it."""
    up.wait_until(lambda: up.stored() >= 20_000, timeout_s, "the worker stored nothing")


def restart_and_settle(tmp_path: Path, cdr_dir: Path, name: str) -> float:
    """Starts `up` again, waits until everything is confirmed stored, stops it; seconds from the
    start to everything stored (the time to recover)."""
    data = tmp_path / "data"
    up = Up(data, cdr_dir, tmp_path / f"{name}.log")
    up.wait_until(lambda: stored_to_end(data, cdr_dir), 600, "the restarted stack never stored the whole file")
    recovered = time.monotonic() - up.started
    up.wait_until(lambda: up.worker_stats() is not None, 120, "the restarted worker never answered")
    up.stop()
    return recovered


def assert_exactly_once_and_nothing_running(tmp_path: Path, scenario: str, recovered_s: float) -> None:
    data = tmp_path / "data"
    assert leftovers(data) == []
    rows, unique = raw_counts(data)
    print(f"\nFAULT-MATRIX | {scenario} | offered {LINES:,} | stored {unique:,} | lost {LINES - unique:,} "
          f"| doubled {rows - unique:,} | recovered in {recovered_s:.0f} s")
    assert stored_counts(data) == (LINES, LINES)
    assert (rows, unique) == (LINES, LINES)


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGTERM], [signal.SIGINT, signal.SIGINT]],
                         ids=["ctrl-c", "sigterm", "ctrl-c-twice"])
def test_a_stop_of_up_mid_ingest_loses_nothing(tmp_path, cdr_dir, signals):
    """One signal stops in order (the worker drains first); a second forces the stop at once, and
    the restart publishes again what was not stored."""
    data = tmp_path / "data"
    up = Up(data, cdr_dir, tmp_path / "up.log")
    mid_ingest(up)
    stopped_at = time.monotonic()
    for sig in signals:
        up.signal(sig)
        time.sleep(1)
    assert up.wait(300) == 0, up.log.read_text()[-3000:]
    stop_s = time.monotonic() - stopped_at
    assert leftovers(data) == []
    if len(signals) == 1:     # a second signal may come before the drain began: then there is none
        assert "draining" in up.log.read_text()
    stored_at_stop = checkpoint(data, cdr_dir.name)["stored"]
    recovered = restart_and_settle(tmp_path, cdr_dir, "up-again")
    names = " + ".join(signal.Signals(sig).name for sig in signals)
    print(f"\n{names}: the stop took {stop_s:.0f} s; stored position at the stop {stored_at_stop:,} bytes "
          f"of {(cdr_dir / 'Master.csv').stat().st_size:,}")
    assert_exactly_once_and_nothing_running(tmp_path, f"{names} of up mid-ingest, then restart", recovered)


@pytest.mark.parametrize("victim", ["worker", "ingest", "broker"])
def test_a_killed_child_is_restarted_and_loses_nothing(tmp_path, cdr_dir, victim):
    """kill -9 of the worker, the producer (`cdrflow ingest`) or the embedded broker mid-ingest:
    up starts it again (with the broker: a fresh worker and producer too) and the file is stored
    whole; then a stop and a restart store nothing twice."""
    data = tmp_path / "data"
    up = Up(data, cdr_dir, tmp_path / "up.log")
    mid_ingest(up)
    pid = up.child_pid(victim)
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    up.wait_until(lambda: up.child_pid(victim) not in (None, pid), 120, f"up did not restart the {victim}")
    up.wait_until(lambda: stored_to_end(data, cdr_dir), 600, "the file was never stored whole after the kill")
    recovered = time.monotonic() - killed_at
    up.stop()
    assert "restarted" in words(up.log)                 # the live view said so
    restart_and_settle(tmp_path, cdr_dir, "up-again")
    assert_exactly_once_and_nothing_running(tmp_path, f"kill -9 of the {victim} mid-ingest", recovered)


def test_kill_9_of_up_takes_its_children_along_and_the_restart_loses_nothing(tmp_path, cdr_dir):
    data = tmp_path / "data"
    up = Up(data, cdr_dir, tmp_path / "up.log")
    mid_ingest(up)
    up.signal(signal.SIGKILL)
    up.wait(30)
    deadline = time.monotonic() + 10
    while leftovers(data) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers(data) == []            # nothing outlives up, and its state files block nothing
    recovered = restart_and_settle(tmp_path, cdr_dir, "up-again")
    assert_exactly_once_and_nothing_running(tmp_path, "kill -9 of up mid-ingest", recovered)


def test_a_corrupt_checkpoint_stops_the_producer_with_a_clear_error(tmp_path, cdr_dir):
    """Never a silent re-read from 0 nor a skip: the producer refuses to start and says why; the
    file is left as it was."""
    data = tmp_path / "data"
    (data / "checkpoints").mkdir(parents=True)
    corrupt = data / "checkpoints" / f"{cdr_dir.name}.json"
    corrupt.write_bytes(b'{"65024:1": {"path": "/x", "offset": 12')        # torn write
    up = Up(data, cdr_dir, tmp_path / "up.log")
    producer_log = data / "logs" / "producer.log"
    up.wait_until(lambda: producer_log.exists() and "is unreadable" in words(producer_log), 120,
                  "no error from the producer")
    time.sleep(2)
    up.stop()
    assert "producer exited with 1" in words(up.log)        # the live view says so
    assert corrupt.read_bytes() == b'{"65024:1": {"path": "/x", "offset": 12'
    assert stored_counts(data) == (0, 0)
    assert leftovers(data) == []
    print(f"\nFAULT-MATRIX | corrupt checkpoint file | offered {LINES:,} | stored 0 (producer refuses, says why) "
          "| lost 0 | doubled 0 | recovered: after the file is restored or removed")
