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
from cdrflow.infra.config import Settings
from cdrflow.numbering.inventory import build_checkpoint, release_candidates_query, utc_text

FIRST = 12_120_000_000  # +1 212 000 0000: the synthetic capacity starts here


def run_numbers_bench(numbers: int, days: int, hit_share: float, console: Console, runs: int = 5) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="cdrflow-numbers-bench-"))
    settings = Settings(data_dir=data_dir, clickhouse_url=f"chdb://{data_dir / 'clickhouse'}")
    client = connect(settings)
    migrate(client, settings)
    db = settings.clickhouse_database
    as_of = datetime.now(timezone.utc).replace(microsecond=0)
    params = {"n": numbers, "first": FIRST, "as_of": utc_text(as_of), "days": days, "share": hit_share}

    t0 = time.perf_counter()
    # every number in service 400 days ago (blocks of 10,000), then disconnected on one of the
    # last 200 days: the whole capacity is in quarantine, the worst case for this query. Imported
    # a day ago, as an inventory is: a status row imported after the checkpoint is recounted.
    client.command(f"""INSERT INTO {db}.number_blocks (first_number, last_number, status, tenant, channel,
                                                         status_since, source_file, source_line, imported_at)
        SELECT {{first:UInt64}} + number * 10000, {{first:UInt64}} + number * 10000 + 9999, 'in_service', 'bench', '',
               {{as_of:DateTime64(3, 'UTC')}} - toIntervalDay(400), 'bench', 0,
               {{as_of:DateTime64(3, 'UTC')}} - toIntervalDay(1)
        FROM numbers(intDiv({{n:UInt64}} + 9999, 10000))""", parameters=params)
    client.command(f"""INSERT INTO {db}.number_blocks (first_number, last_number, status, tenant, channel,
                                                         status_since, source_file, source_line, imported_at)
        SELECT {{first:UInt64}} + number, {{first:UInt64}} + number, 'disconnected', 'bench', '',
               {{as_of:DateTime64(3, 'UTC')}} - toIntervalHour(number % 4800), 'bench', 0,
               {{as_of:DateTime64(3, 'UTC')}} - toIntervalDay(1)
        FROM numbers({{n:UInt64}})""", parameters=params)
    inventory_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for day in range(days):  # one day per insert keeps each insert to one partition and bounded memory
        client.command(f"""INSERT INTO {db}.number_hits_daily
            SELECT {{first:UInt64}} + number AS n, toDate({{as_of:DateTime64(3, 'UTC')}}) - {{day:UInt32}} AS day,
                   toUInt64(1 + cityHash64(n, day) % 3) AS calls, toUInt64(cityHash64(n, day, 1) % 2) AS answered,
                   initializeAggregation('uniqIfState', toString(cityHash64(n) % 50), toUInt8(1))
            FROM numbers({{n:UInt64}})
            WHERE cityHash64(n, day, 2) % 1000 < {{share:Float64}} * 1000""", parameters={**params, "day": day})
    client.command(f"OPTIMIZE TABLE {db}.number_hits_daily FINAL")
    # the history arrived before today's checkpoint: its arrival rows would mark every number as
    # having late hits (the table's TTL drops arrivals after 3 days anyway)
    client.command(f"TRUNCATE TABLE {db}.number_hits_arrivals")
    hits_s = time.perf_counter() - t0
    hit_rows = client.query(f"SELECT count() FROM {db}.number_hits_daily").result_rows[0][0]

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
        summary = f"SELECT count(), sum(calls), countIf(verdict = 'release') FROM ({sql})"
        # the machine is shared: each figure with its load, and the CPU time the (in-process) query used
        timings, cpu, load = [], [], os.getloadavg()[0]
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            answers.add(tuple(client.query(summary, parameters=parameters).result_rows[0]))
            timings.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        _ = client.query(sql, parameters=parameters).result_rows     # fetching every row is what is timed
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
