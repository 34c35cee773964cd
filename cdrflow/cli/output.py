"""What every CLI module prints with, and how a command fails: one console, one error format."""
from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def fail_query(exc: Exception) -> NoReturn:
    # ClickHouse errors run to pages of stack; their first line says what went wrong
    fail(str(exc).strip().splitlines()[0][:500])
