"""`cdrflow tenants bench`: every tenant view timed over a large synthetic call history.

Rows are generated inside ClickHouse with numbers() straight into tenant_calls (what the views
read): pushing 10 M calls through enrichment would measure ingest, not the views.
"""
from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from rich.console import Console

from cdrflow.clickhouse.client import connect
from cdrflow.clickhouse.migrate import migrate
from cdrflow.clickhouse.sql import count_of, query, utc
from cdrflow.infra.config import Settings
from cdrflow.tenants.views import VIEWS, save_analysis_query, view_query

def run_tenant_bench(calls: int, days: int, console: Console, runs: int = 5) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="cdrflow-tenant-bench-"))
    settings = Settings(data_dir=data_dir, clickhouse_url=f"chdb://{data_dir / 'clickhouse'}", retention_days=5000)
    client = connect(settings)
    try:
        migrate(client, settings)
        end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=days)
        t0 = time.perf_counter()
        client.command(query("bench_tenant_calls", settings), parameters={
            "n": calls, "start": utc(start), "span_ms": days * 86_400_000.0})
        # the insert also fed tenant_calls_by_caller through its materialised view
        for table in ("tenant_calls", "tenant_calls_by_caller"):
            client.command(query("optimize_final", settings, table=table))
        load_s = time.perf_counter() - t0
        client.command(*save_analysis_query(settings, "t0", "uk", "+44"))
        rows_t0 = client.query(query("bench_tenant_calls_of", settings), parameters={"tenant": "t0"}).result_rows[0][0]
        console.print(f"{calls:,} calls over {days} days generated in {load_s:.1f} s; largest tenant t0: {rows_t0:,}")
        figures: dict = {"calls": calls, "days": days, "largest_tenant_calls": rows_t0, "load_s": round(load_s, 1)}
        for label, since in ((f"{days} days", start), ("7 days", end - timedelta(days=7))):
            for view in VIEWS:
                sql, params = view_query(settings, view, "t0", since, end, name="uk")
                # summarised in ClickHouse: the figure is the view, not Python receiving rows
                wrapped = count_of(sql)
                timings = []
                for _ in range(runs):
                    t = time.perf_counter()
                    client.query(wrapped, parameters=params)
                    timings.append(time.perf_counter() - t)
                best, median = min(timings), statistics.median(timings)
                figures[f"{view} ({label})"] = (round(best, 3), round(median, 3))
                console.print(f"{label:>8}  {view:<24} best {best:.3f} s  median {median:.3f} s")
        return figures
    finally:
        client.close()
        shutil.rmtree(data_dir, ignore_errors=True)
