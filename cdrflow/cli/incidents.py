"""`cdrflow incidents`: what ops look at and what they send to an upstream carrier."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Optional

import typer
from rich.markdown import Markdown
from rich.table import Table

from cdrflow.cli.output import console, fail, fail_query
from cdrflow.infra.config import Settings

incidents_app = typer.Typer(help="Interconnect incidents: list open and recent ones, print escalation reports, "
                                 "acknowledge them and add notes.",
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
         output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the report to this file, "
                                               "to attach to the carrier's ticket: .md, .html or .json")) -> None:
    """The escalation report for an upstream carrier: window, figures before/during, causes, sample calls,
    acknowledgements and notes."""
    from cdrflow.incidents.report import build_report, render
    from cdrflow.infra.runtime import QueryError

    formats = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}
    if output and output.suffix.lower() not in formats:
        fail(f"--output {output}: name a .md, .html or .json file")
    try:
        report = build_report(Settings(), incident_id)
    except QueryError as exc:
        fail_query(exc)
    if output:
        output.write_text(render(report, formats[output.suffix.lower()]))
        console.print(f"wrote {output}")
    if as_json:
        console.print_json(render(report, "json"))
    else:
        console.print(Markdown(render(report, "md")))


@incidents_app.command()
def ack(incident_id: str = typer.Argument(..., help="Incident id (a unique prefix is enough)"),
        by: str = typer.Option(..., "--by", help="Who takes it (name or on-call handle)")) -> None:
    """Acknowledge an incident: it shows as taken in the report and on the NOC dashboard."""
    _act(incident_id, "ack", by, "")


@incidents_app.command()
def note(incident_id: str = typer.Argument(..., help="Incident id (a unique prefix is enough)"),
         text: str = typer.Argument(..., help="The note, e.g. the carrier's ticket number"),
         by: str = typer.Option(os.environ.get("USER", "ops"), "--by", help="Who writes it")) -> None:
    """Add a note to an incident (carrier ticket, what was tried): shown in the report and on the dashboard."""
    _act(incident_id, "note", by, text)


def _act(incident_id: str, action: Literal["ack", "note"], by: str, text: str) -> None:
    from cdrflow.incidents.actions import add_action
    from cdrflow.infra.runtime import QueryError

    try:
        full_id = add_action(Settings(), incident_id, action, by, text)
    except QueryError as exc:
        fail_query(exc)
    console.print(f"{'acknowledged' if action == 'ack' else 'noted on'} incident {full_id} ({by})")
