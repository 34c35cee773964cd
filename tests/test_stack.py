"""`cdrflow up`, the README's main command, as a newcomer runs it: its own Tansu broker, a worker
owning an embedded chdb, the simulator; the live view has interconnect figures from the start
(the simulator publishes fifty minutes of history first), and the command leaves nothing running."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
from cdrflow.infra.local_broker import free_port
from cdrflow.producers.simulator_source import SimulatedUntil

from support.stack import leftovers, stored_counts

CDRFLOW = str(Path(sys.executable).parent / "cdrflow")


def test_up_shows_interconnect_figures_and_stops_everything_it_started(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDRFLOW_")}
    # a constant rate: the diurnal curve would make the figures depend on the hour the test runs
    env.update(CDRFLOW_DATA_DIR=str(tmp_path / "data"), CDRFLOW_WORKER_WEB_PORT=str(free_port()), COLUMNS="120",
               CDRFLOW_SIMULATOR_DIURNAL="false")
    started_ms = time.time() * 1000
    run = subprocess.run([CDRFLOW, "up", "--rate", "50", "--duration", "75"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    final = run.stdout[run.stdout.rfind("CDRs/s in"):]          # the live view's last frame
    stored = int(re.search(r"stored ([\d,]+)", final).group(1).replace(",", ""))
    assert stored >= 50 * 60 * 10 * 0.9                          # at least ten minutes of history at 50 calls/s
    rows = re.findall(r"│ (\S+)\s+│ (in|out)\s+│ ([\d,]+)\s+│ ([\d,]+)\s+│ ([\d.]+)%\s+│ ([\d.]+)%\s+│ ([\d,]+)",
                      final)
    assert len(rows) >= 8, final
    assert all(0 < int(answered.replace(",", "")) < int(seizures.replace(",", ""))
               for _, _, seizures, answered, *_ in rows)
    assert any(int(in_progress.replace(",", "")) > 0 for *_, in_progress in rows), final
    # nothing left behind: no worker, producer or broker process of this data dir
    assert leftovers(tmp_path / "data") == []
    # the stop drained the topic: every CDR the simulator published is stored, once
    producer_log = (tmp_path / "data" / "logs" / "producer.log").read_text()
    published = int(re.findall(r"published (\d+) simulated CDRs", producer_log)[-1])
    assert published >= stored and stored_counts(tmp_path / "data") == (published, published)
    # where the simulated clock stopped, for the next run's history (see the test below)
    until_ms = orjson.loads((tmp_path / "data" / "simulated_until.json").read_bytes())["until_ms"]
    assert started_ms + 60_000 <= until_ms <= time.time() * 1000

def test_history_never_starts_before_where_the_last_run_stopped(tmp_path):
    until = SimulatedUntil(tmp_path / "simulated_until.json")
    now = 1_800_000_000_000
    assert until.history_start(now, 10) == now - 600_000             # no earlier run
    until.save(now - 120_000)
    assert until.history_start(now, 10) == now - 120_000            # resumes where it stopped
    assert until.history_start(now, 1) == now - 60_000              # a shorter history is kept
    until.save(now + 5_000)                                          # a clock that ran ahead
    assert until.history_start(now, 10) == now


def test_the_live_view_keeps_a_busy_workers_last_figures(tmp_path):
    """A worker draining a backlog may not answer /stats in time: the view keeps what it said last
    (its last frame, drawn while draining, is what a log of `up` keeps) until the worker is gone."""
    from cdrflow.infra.config import Settings
    from cdrflow.stack import Child, Stack

    stack = Stack(Settings(data_dir=tmp_path))
    last = {"cdrs_in": 9, "cdrs_stored": 9, "duplicates_skipped": 0, "dead_letters": 0, "write_error": None}
    stack._stats, stack._stats_read_at = last, time.monotonic()
    busy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])     # running, never answers
    stack.children["worker"] = Child("worker", [], busy)
    try:
        stack._watch_writes()
        assert stack._stats == last
    finally:
        busy.kill()
        busy.wait()
    stack._watch_writes()
    assert stack._stats is None         # gone: no figures
