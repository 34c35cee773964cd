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
from cdrflow.infra.config import Settings
from cdrflow.tenants.views import VIEWS, save_analysis_query, view_query

# 10 tenants, the largest with 30 % of the calls (t0), 20 % (t1), the rest 6.25 % each.
_GENERATE = """
INSERT INTO {db}.tenant_calls
SELECT
    multiIf(h % 100 < 30, 't0', h % 100 < 50, 't1', concat('t', toString(2 + h % 8))) AS tenant,
    {start:DateTime64(3, 'UTC')}
        + toIntervalMillisecond(toInt64(number * {span_ms:Float64} / {n:UInt64})) AS start_time,
    if(cls IN ('missed') AND h % 7 != 0, NULL, start_time + toIntervalMillisecond(wait)) AS answer_time,
    start_time + toIntervalMillisecond(wait + talk) AS end_time,
    generateUUIDv4(number) AS cdr_id,
    cls AS call_class,
    if(cls = 'forwarded', '', toString(200 + h % 40)) AS extension,
    concat('+1212555', toString(1000 + h % 50)) AS tenant_number,
    concat('+1', toString(2000000000 + cityHash64(number, 2) % 100000)) AS remote_number,
    if(cls = 'missed', 0, talk) AS talk_ms,
    wait AS wait_ms,
    if(cls IN ('outgoing'), ['local', 'long_distance', 'mobile', 'international'][1 + h % 4], '') AS call_direction,
    if(cls IN ('outgoing'), ['NYC', 'US', 'UK', 'UK mobile', 'FR', 'DE'][1 + h % 6], '') AS destination,
    if(cls IN ('outgoing'), round(talk / 60000 * 0.02, 6), NULL) AS cost
FROM (
    SELECT number, cityHash64(number) AS h,
           ['incoming', 'incoming', 'incoming', 'missed', 'outgoing', 'outgoing', 'outgoing', 'internal',
            'forwarded'][1 + cityHash64(number, 1) % 9] AS cls,
           toUInt64(2000 + cityHash64(number, 3) % 30000) AS wait,
           toUInt64(cityHash64(number, 4) % 600000) AS talk
    FROM numbers({n:UInt64})
)
"""


def run_tenant_bench(calls: int, days: int, console: Console, runs: int = 5) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="cdrflow-tenant-bench-"))
    settings = Settings(data_dir=data_dir, clickhouse_url=f"chdb://{data_dir / 'clickhouse'}", retention_days=5000)
    client = connect(settings)
    try:
        migrate(client, settings)
        db = settings.clickhouse_database
        end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=days)
        t0 = time.perf_counter()
        client.command(_GENERATE.replace("{db}", db), parameters={
            "n": calls, "start": start.strftime("%Y-%m-%d %H:%M:%S"), "span_ms": days * 86_400_000.0})
        # the insert also fed tenant_calls_by_caller through its materialised view
        for table in ("tenant_calls", "tenant_calls_by_caller"):
            client.command(f"OPTIMIZE TABLE {db}.{table} FINAL")
        load_s = time.perf_counter() - t0
        client.command(*save_analysis_query(settings, "t0", "uk", "+44"))
        rows_t0 = client.query(f"SELECT count() FROM {db}.tenant_calls WHERE tenant = 't0'").result_rows[0][0]
        console.print(f"{calls:,} calls over {days} days generated in {load_s:.1f} s; largest tenant t0: {rows_t0:,}")
        figures: dict = {"calls": calls, "days": days, "largest_tenant_calls": rows_t0, "load_s": round(load_s, 1)}
        for label, since in ((f"{days} days", start), ("7 days", end - timedelta(days=7))):
            for view in VIEWS:
                sql, params = view_query(settings, view, "t0", since, end, name="uk")
                # summarised in ClickHouse: the figure is the view, not Python receiving rows
                wrapped = f"SELECT count() FROM ({sql})"
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
