"""`cdrflow incidents`: what ops look at and what they send to an upstream carrier."""
from __future__ import annotations

import json
from typing import Optional

import typer
from rich.markdown import Markdown
from rich.table import Table

from cdrflow.cli.output import console, fail_query
from cdrflow.infra.config import Settings

incidents_app = typer.Typer(help="Interconnect incidents: list open and recent ones, print escalation reports.",
                            invoke_without_command=True)


@incidents_app.callback()
def incidents(ctx: typer.Context,
              hours: int = typer.Option(24, help="Also list incidents that started in the last HOURS")) -> None:
    """Open incidents and those of the last hours (default when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    from cdrflow.clickhouse.sql import query
    from cdrflow.clickhouse.client import run_query
    from cdrflow.infra.runtime import QueryError

    settings = Settings()
    try:
        columns, rows = run_query(settings, query("incidents_recent", settings), {"hours": hours})
    except QueryError as exc:
        fail_query(exc)
    if not rows:
        console.print(f"no open incidents and none in the last {hours} h")
        return
    table = Table(*columns, title="interconnect incidents")
    for row in rows:
        table.add_row(*("–" if v is None else str(v) for v in row))
    console.print(table)


@incidents_app.command()
def show(incident_id: str = typer.Argument(..., help="Incident id (a unique prefix is enough)"),
         as_json: bool = typer.Option(False, "--json", help="JSON instead of Markdown"),
         output: Optional[str] = typer.Option(None, "--output", "-o",
                                              help="Also write the report to this file")) -> None:
    """The escalation report for an upstream carrier: window, figures before/during, causes, sample calls."""
    from cdrflow.incidents.report import build_report, to_markdown
    from cdrflow.infra.runtime import QueryError

    try:
        report = build_report(Settings(), incident_id)
    except QueryError as exc:
        fail_query(exc)
    text = json.dumps(report, indent=2, default=str) if as_json else to_markdown(report)
    if output:
        with open(output, "w") as fh:
            fh.write(text)
    if as_json:
        console.print_json(text)
    else:
        console.print(Markdown(text))
