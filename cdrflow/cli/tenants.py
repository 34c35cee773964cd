"""`cdrflow tenants …`: ask the tenant views, save and re-run analyses, grant a tenant its user."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import typer

from cdrflow.cli.numbers import print_table, run_on
from cdrflow.cli.output import console, err, fail, fail_query
from cdrflow.infra.config import Settings

tenants_app = typer.Typer(help="Tenant call accounting: views per tenant and period, saved analyses, access.",
                          no_args_is_help=True)

_DAY = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def period(since: Optional[datetime], until: Optional[datetime]) -> tuple[datetime, datetime]:
    """[since, until) in UTC; default the last 7 days up to now."""
    end = until.replace(tzinfo=timezone.utc) if until else datetime.now(timezone.utc)
    return (since.replace(tzinfo=timezone.utc) if since else end - timedelta(days=7)), end


@tenants_app.command("view")
def view(
    name: str = typer.Argument(..., help="summary, trend, call_types, directions, destinations, top_numbers, "
                                         "incoming_numbers, extensions, missed_not_called_back, channel_load, "
                                         "notebook"),
    tenant: str = typer.Argument(...),
    since: Optional[datetime] = typer.Option(None, formats=_DAY, help="Period start, UTC (default 7 days ago)"),
    until: Optional[datetime] = typer.Option(None, formats=_DAY, help="Period end, UTC, exclusive (default now)"),
    rule: list[str] = typer.Option([], help="Override a rule, e.g. --rule unique_days=7 --rule bucket_s=900"),
) -> None:
    """One tenant view over a period; rules default to Settings.call_types and the tenant's config."""
    from cdrflow.tenants.views import rule_defaults, view_query

    settings = Settings()
    start, end = period(since, until)
    defaults = rule_defaults(settings, tenant)
    rules = {}
    for item in rule:
        key, _, value = item.partition("=")
        if key not in defaults:
            fail(f"unknown rule {key!r}; have {', '.join(sorted(defaults))}")
        current = defaults[key]
        rules[key] = value.split(",") if isinstance(current, list) else type(current)(value)
    try:
        sql, params = view_query(settings, name, tenant, start, end, **rules)
    except ValueError as exc:
        fail(str(exc))
    print_table(f"{name} — {tenant}, {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC", *run_on(settings)(sql, params))


@tenants_app.command("save")
def save(
    tenant: str = typer.Argument(...),
    name: str = typer.Argument(..., help="Name of the analysis"),
    prefix: str = typer.Option(..., help="E.164 prefix on either number, e.g. +1212 (one area code)"),
    call_class: list[str] = typer.Option([], "--class", help="Only these call classes (repeatable)"),
    note: str = typer.Option(""),
) -> None:
    """Save a named filter ("notebook"); re-run it with `tenants view notebook TENANT --rule name=NAME`."""
    from cdrflow.tenants.views import save_analysis_query

    settings = Settings()
    try:
        sql, params = save_analysis_query(settings, tenant, name, prefix, call_class, note)
    except ValueError as exc:
        fail(str(exc))
    run_on(settings)(sql, params)
    console.print(f"saved analysis {name!r} for {tenant}")


@tenants_app.command("analyses")
def analyses(tenant: str = typer.Argument(...)) -> None:
    """The tenant's saved analyses."""
    from cdrflow.tenants.views import list_analyses_query

    settings = Settings()
    print_table(f"saved analyses — {tenant}", *run_on(settings)(*list_analyses_query(settings, tenant)))


@tenants_app.command("grant")
def grant(
    tenant: str = typer.Argument(...),
    password: Optional[str] = typer.Option(None, help="Password of the tenant's user (default: generated)"),
    dry_run: bool = typer.Option(False, help="Only print the SQL"),
) -> None:
    """Create the tenant's user with row policies and SELECT on the tenant views only (real server);
    in embedded mode (chdb has no access control) the SQL is printed."""
    from cdrflow.tenants.access import grant_statements, new_password, user_of

    settings = Settings()
    secret = password or new_password()
    try:
        statements = grant_statements(settings, tenant, secret)
    except ValueError as exc:
        fail(str(exc))
    if dry_run or settings.embedded_clickhouse:
        if settings.embedded_clickhouse and not dry_run:
            err.print("embedded ClickHouse has no users or row policies: run this on the server")
        for sql in statements:
            console.print(sql + ";", soft_wrap=True, highlight=False, markup=False)
        return
    from cdrflow.clickhouse.client import connect

    client = connect(settings)
    for sql in statements:
        client.command(sql)
    console.print(f"user {user_of(tenant)} can read its own calls through the tenant views"
                  + ("" if password else f"; password: {secret}"), markup=False)


@tenants_app.command("report")
def report(
    tenant: str = typer.Argument(...),
    period: str = typer.Option("7d", help="7d / 24h (up to now), 2026-11 (a month), 2026-11-20 (a day) or "
                                          "2026-11-01..2026-12-01 ([from, to), UTC)"),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file (default report-TENANT-FROM.html)"),
) -> None:
    """Summary, directions, channel load and extensions of one tenant as an HTML report with charts."""
    from cdrflow.infra.runtime import QueryError
    from cdrflow.tenants.report import parse_period, write_report

    settings = Settings()
    try:
        start, end = parse_period(period)
    except ValueError as exc:
        fail(str(exc))
    path = out or Path(f"report-{tenant}-{start:%Y%m%d}.html")
    try:
        write_report(settings, tenant, start, end, path)
    except QueryError as exc:
        fail_query(exc)
    console.print(f"report for {tenant}, {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC: {path}", markup=False)


@tenants_app.command("bench")
def bench(
    calls: int = typer.Option(10_000_000, help="Calls in the synthetic history"),
    days: int = typer.Option(30, help="Days they span"),
) -> None:
    """Time every tenant view for the largest of 10 tenants (30 % of the calls) (throw-away chdb)."""
    from cdrflow.bench.tenants import run_tenant_bench

    run_tenant_bench(calls, days, console)
