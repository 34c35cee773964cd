"""`cdrflow numbers …`: inventory import, quarantine release candidates, call tracking, benchmark."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from cdrflow.cli.output import console, fail, fail_query
from cdrflow.infra.config import Settings

numbers_app = typer.Typer(help="Number capacity: inventory, per-number hits, quarantine, call tracking.",
                          no_args_is_help=True)


def run_on(settings: Settings):
    """(sql, parameters) runner that also works while the worker owns the embedded ClickHouse."""
    from cdrflow.clickhouse.client import run_query
    from cdrflow.infra.runtime import QueryError

    def run(sql: str, parameters: dict):
        try:
            return run_query(settings, sql, parameters)
        except QueryError as exc:
            fail_query(exc)
    return run


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@numbers_app.command("import")
def import_(file: Path = typer.Argument(..., exists=True, dir_okay=False,
                                        help="CSV: number,status,tenant,channel,status_since")) -> None:
    """Add the file's status changes to the number inventory (all rows or, on any bad row, none)."""
    from cdrflow.numbering.inventory import InventoryError, import_inventory

    settings = Settings()
    try:
        blocks, count = import_inventory(run_on(settings), settings, file)
    except InventoryError as exc:
        fail(str(exc))
    console.print(f"imported {blocks} rows ({count} numbers)")


@numbers_app.command("release-candidates")
def release_candidates(
    max_calls: Optional[int] = typer.Option(None, help="Release with fewer calls than this (default from settings: 3)"),
    window_days: Optional[int] = typer.Option(None, help="Days of calls that count (default 90)"),
    min_days: Optional[int] = typer.Option(None, help="Shortest quarantine (default 90)"),
    as_of: Optional[datetime] = typer.Option(None, help="Ask as of this UTC moment (default now)"),
) -> None:
    """Disconnected numbers that may be sold again, and the dirty ones that keep getting calls."""
    from cdrflow.numbering.inventory import release_candidates_query

    settings = Settings()
    moment = as_of.replace(tzinfo=timezone.utc) if as_of else None
    columns, rows = run_on(settings)(*release_candidates_query(settings, moment, max_calls, window_days, min_days))
    verdict = columns.index("verdict")
    for name, title in (("release", "release candidates"), ("dirty", "dirty: still getting calls")):
        print_table(title, columns[:verdict], [r[:verdict] for r in rows if r[verdict] == name])


@numbers_app.command("checkpoint")
def checkpoint(
    window_days: Optional[int] = typer.Option(None, help="Days of calls that count (default 90)"),
    as_of: Optional[datetime] = typer.Option(None, help="For questions on this UTC moment's day (default now)"),
    rebuild: bool = typer.Option(False, help="Build again even if the day has one"),
) -> None:
    """Build the day's quarantine checkpoint (the worker does it daily): release-candidate questions
    then read it plus the day's hits instead of the whole window, with the same answer."""
    from cdrflow.numbering.inventory import build_checkpoint

    settings = Settings()
    moment = as_of.replace(tzinfo=timezone.utc) if as_of else None
    try:
        done = build_checkpoint(run_on(settings), settings, moment, window_days, rebuild)
    except ValueError as exc:
        fail(str(exc))
    how = f"built in {done.build_s:.1f} s" if done.built else "already built"
    console.print(f"checkpoint for {done.day}, {done.window_days}-day window: {done.numbers} numbers, {how}")


@numbers_app.command("tracking")
def tracking(
    since: Optional[datetime] = typer.Option(None, formats=["%Y-%m-%d"], help="First day (default 7 days ago)"),
    until: Optional[datetime] = typer.Option(None, formats=["%Y-%m-%d"], help="Last day (default today)"),
    tenant: str = typer.Option("", help="Only this tenant's tracking numbers"),
) -> None:
    """Call tracking per tracking number, channel and day: calls, unique and first-time callers, answered."""
    from cdrflow.numbering.inventory import call_tracking_query

    settings = Settings()
    last = until.date() if until else datetime.now(timezone.utc).date()
    first = since.date() if since else last - timedelta(days=7)
    print_table("call tracking", *run_on(settings)(*call_tracking_query(settings, first, last, tenant)))


@numbers_app.command("bench")
def bench(
    numbers: int = typer.Option(1_000_000, help="Numbers in quarantine"),
    days: int = typer.Option(90, help="Days of hits"),
    hit_share: float = typer.Option(1.0, help="Share of number-days that had calls"),
) -> None:
    """Time the release-candidates query over NUMBERS numbers × DAYS days of hits (throw-away chdb)."""
    from cdrflow.bench.numbers import run_numbers_bench

    run_numbers_bench(numbers, days, hit_share, console)
