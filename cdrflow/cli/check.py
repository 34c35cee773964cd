"""`cdrflow check PATH… --format F [--json]`: the file check users run before `ingest`."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from cdrflow.infra.config import Settings


def resolve_format(format: str, paths: list[Path], pattern: str = "*") -> str:
    """--format as given, or for "auto" the sniffed format (said on stderr, with why); an unsure
    sniff fails the command."""
    if format != "auto":
        return format
    from cdrflow.cli.output import err, fail
    from cdrflow.producers.sniff import UnsureFormat, sniff_format

    try:
        chosen, why = sniff_format(paths, pattern)
    except UnsureFormat as exc:
        fail(f"--format auto cannot tell the format: {exc}; name it with --format (see `cdrflow formats`)")
    err.print(f"--format auto: {chosen} ({why})", markup=False)
    return chosen


LAYOUT_HELP = "Declared layout (TOML, or a shipped layout's name) of a delimited export: implies --format layout"


def resolve_parser(format: str | None, layout: Path | None, paths: list[Path], pattern: str = "*",
                   default: str | None = None):
    """(settings, parser) for --format and --layout: --layout is the setting `layout` and means
    format layout; a layout that does not validate, or an unknown format, fails the command."""
    from cdrflow.cli.output import fail
    from cdrflow.producers.formats import parser_for

    if layout is not None:
        if format not in (None, "layout"):
            fail(f"--layout reads files with format layout, not {format}: drop --format or give --format layout")
        format = "layout"
    settings = Settings(layout=layout) if layout is not None else Settings()
    if format is None:
        if default is None:
            fail("give --format F (see `cdrflow formats`, or auto) or --layout FILE.toml")
        format = default
    format = resolve_format(format, paths, pattern)
    try:
        return settings, parser_for(format, settings)
    except ValueError as exc:
        fail(str(exc))


def check(
    paths: list[Path] = typer.Argument(..., help="CDR files or directories"),
    format: Optional[str] = typer.Option(None, help="CDR format (see `cdrflow formats`), or auto"),
    layout: Optional[Path] = typer.Option(None, help=LAYOUT_HELP),
    pattern: str = typer.Option("*", help="File name pattern inside directories"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
) -> None:
    """Read CDR files as `ingest` does and publish nothing: what would be stored, dead-lettered, skipped."""
    from cdrflow.producers.check import check_files

    settings, parser = resolve_parser(format, layout, paths, pattern)
    report = check_files(paths, parser, settings.retention_days, ZoneInfo(settings.source_timezone), pattern)
    if as_json:
        print(json.dumps(report.as_json()))
    else:
        print_report(report, settings.retention_days)


def print_report(report, retention_days: int) -> None:
    from cdrflow.cli.output import console

    console.print(f"{report.files} file(s), {report.lines} lines → {report.records} CDRs, "
                  f"{report.dead_letters} dead letters"
                  + (f", {report.repairs} rows read leniently (MySQL-style quotes)" if report.repairs else ""))
    for reason, count in report.dead_letter_reasons.items():
        lines = ", ".join(report.dead_letter_lines.get(reason, []))
        console.print(f"  dead letter ×{count}: {reason}" + (f"  (first: {lines})" if lines else ""), markup=False)
    for kind, count in report.skipped.items():
        console.print(f"  skipped ×{count}: {kind}", markup=False)
    console.print(f"answered {report.answered}, billable {report.billable_s} s; calls from {report.first_start} "
                  f"to {report.last_start}; {report.outside_retention} older than the retention "
                  f"({retention_days} days)")
    if report.egress_trunks:
        table = Table("egress trunk", "seizures", "answered", "ASR")
        for trunk, figures in report.egress_trunks.items():
            table.add_row(trunk, str(figures["seizures"]), str(figures["answered"]),
                          f"{figures['answered'] / figures['seizures']:.1%}")
        console.print(table)
    if report.fields_filled:
        filled = [f"{name} {share:.0%}" for name, share in report.fields_filled.items() if share]
        console.print("fields filled: " + ", ".join(filled), markup=False)
