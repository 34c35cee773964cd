"""clickhouse/client.py connect(): the embedded engine's allocator settings reach chdb's jemalloc.

Each case runs in a fresh process: jemalloc reads its settings once, when chdb loads."""
from __future__ import annotations

import os
import subprocess
import sys

READ_OPTIONS = """
import sys
from cdrflow.clickhouse.client import connect
from cdrflow.infra.config import Settings
stats = connect(Settings(data_dir=sys.argv[1])).query("SELECT * FROM system.jemalloc_stats").result_rows[0][0]
wanted = ("opt.dirty_decay_ms", "opt.prof_active")
print("\\n".join(line.strip() for line in stats.splitlines() if line.strip().startswith(wanted)))
"""


def jemalloc_options(tmp_path, **env) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "JE_MALLOC_CONF"} | env
    return subprocess.run([sys.executable, "-c", READ_OPTIONS, str(tmp_path)], env=environment, check=True,
                          capture_output=True, text=True, timeout=120).stdout


def test_freed_pages_go_back_after_a_second_and_the_heap_profiler_is_off(tmp_path):
    options = jemalloc_options(tmp_path)
    assert "opt.dirty_decay_ms: 1000 " in options and "opt.prof_active: false " in options


def test_an_operators_own_allocator_setting_wins(tmp_path):
    options = jemalloc_options(tmp_path, JE_MALLOC_CONF="dirty_decay_ms:2500")
    assert "opt.dirty_decay_ms: 2500 " in options and "opt.prof_active: true " in options
