"""`cdrflow numbers bench`: the release-candidates question over a large synthetic capacity.

Data is generated inside ClickHouse (numbers() table function) straight into the inventory and the
daily hits aggregate: pushing 90 M number-days through CDRs would measure ingest, not the query.
Then today's quarantine checkpoint is built (timed apart), and the question is timed with it and
from the day table alone; both must give the same answer.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from cdrflow.clickhouse.client import connect
from cdrflow.clickhouse.migrate import migrate
from cdrflow.clickhouse.sql import query, utc
from cdrflow.infra.config import Settings
from cdrflow.numbering.inventory import build_checkpoint, release_candidates_query

FIRST = 12_120_000_000  # +1 212 000 0000: the synthetic capacity starts here


def run_numbers_bench(numbers: int, days: int, hit_share: float, console: Console, runs: int = 5) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="cdrflow-numbers-bench-"))
    settings = Settings(data_dir=data_dir, clickhouse_url=f"chdb://{data_dir / 'clickhouse'}")
    client = connect(settings)
    migrate(client, settings)
    as_of = datetime.now(timezone.utc).replace(microsecond=0)
    params = {"n": numbers, "first": FIRST, "as_of": utc(as_of), "days": days, "share": hit_share}

    t0 = time.perf_counter()
    # the whole capacity in service, then each number disconnected: all of it in quarantine
    client.command(query("bench_numbers_in_service", settings), parameters=params)
    client.command(query("bench_numbers_disconnected", settings), parameters=params)
    inventory_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for day in range(days):
        client.command(query("bench_numbers_hits_day", settings), parameters={**params, "day": day})
    client.command(query("optimize_final", settings, table="number_hits_daily"))
    client.command(query("bench_numbers_forget_arrivals", settings))
    hits_s = time.perf_counter() - t0
    hit_rows = client.query(query("row_count", settings, table="number_hits_daily")).result_rows[0][0]

    load = os.getloadavg()[0]
    checkpoint = build_checkpoint(lambda sql, p: client.query(sql, parameters=p), settings, as_of=as_of)
    figures = {"numbers": numbers, "days": days, "hit_rows": hit_rows,
               "load_inventory_s": round(inventory_s, 1), "load_hits_s": round(hits_s, 1),
               "checkpoint_build_s": round(checkpoint.build_s, 2), "checkpoint_numbers": checkpoint.numbers,
               "checkpoint_build_load_1m": load}
    answers = set()
    for path, use_checkpoint in (("checkpoint", True), ("day_table", False)):
        sql, parameters = release_candidates_query(settings, as_of=as_of, use_checkpoint=use_checkpoint)
        # The query's own time (summarised in ClickHouse) apart from shipping every row into Python.
        summary = query("bench_release_candidates_summary", settings)
        # the machine is shared: each figure with its load, and the CPU time the (in-process) query used
        timings, cpu, load = [], [], os.getloadavg()[0]
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            answers.add(tuple(client.query(summary, parameters=parameters).result_rows[0]))
            timings.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        _ = client.query(sql, parameters=parameters).result_rows    # every row fetched, as a reader would
        figures |= {f"{path}_best_s": round(min(timings), 3), f"{path}_median_s": round(statistics.median(timings), 3),
                    f"{path}_fetch_all_rows_s": round(time.perf_counter() - t0, 3), f"{path}_load_1m": load,
                    f"{path}_cpu_median_s": round(statistics.median(cpu), 3)}
    if len(answers) != 1:
        raise RuntimeError(f"the checkpoint and the day table disagree: {answers}")
    (listed, calls, release), = answers
    figures |= {"listed": listed, "calls": calls, "release": release}
    for name, value in figures.items():
        console.print(f"{name}: {value:,}" if isinstance(value, int) else f"{name}: {value}")
    client.close()
    shutil.rmtree(data_dir, ignore_errors=True)  # a dense run leaves ~350 MB behind otherwise
    return figures
