"""The state files by which one cdrflow process finds another (infra/runtime.py): a live process's
file counts however the wall clock moves; a dead or reused pid's file never does."""
from __future__ import annotations

import json
import subprocess
import sys

import psutil._pslinux
from cdrflow.infra.config import Settings
from cdrflow.infra.runtime import publish_state, read_state


def test_a_live_process_still_counts_after_the_clock_is_adjusted(tmp_path, monkeypatch):
    """NTP moves the boot time the kernel reports (now − uptime), and psutil's create_time() adds
    it afresh: a CI run's restarted worker read as gone, so nothing could reach it."""
    settings = Settings(data_dir=tmp_path)
    publish_state(settings, "worker", port=1234)
    booted = psutil._pslinux.boot_time()
    monkeypatch.setattr(psutil._pslinux, "boot_time", lambda: booted + 1.0)
    assert (read_state(settings, "worker") or {}).get("port") == 1234


def test_a_gone_or_reused_pid_does_not_count(tmp_path):
    settings = Settings(data_dir=tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    publish_state(settings, "producer", pid=gone.pid)
    assert read_state(settings, "producer") is not None
    gone.communicate()          # closes its stdin: it ends
    assert read_state(settings, "producer") is None

    publish_state(settings, "worker")
    path = tmp_path / "worker.json"
    state = json.loads(path.read_text())
    path.write_text(json.dumps({**state, "start_ticks": state["start_ticks"] - 1}))   # an earlier process's pid
    assert read_state(settings, "worker") is None
