"""SQL files of clickhouse/: placeholders filled from Settings; values go as server-side {x:Type}."""
from __future__ import annotations

import re
from importlib import resources

from cdrflow.infra.config import Settings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def fill(sql: str, settings: Settings) -> str:
    """Replaces {database} and {retention_days}; both are checked, never raw user input."""
    if not _IDENTIFIER.match(settings.clickhouse_database):
        raise ValueError(f"invalid database name {settings.clickhouse_database!r}")
    return sql.replace("{database}", settings.clickhouse_database).replace(
        "{retention_days}", str(int(settings.retention_days)))


def statements(sql: str, settings: Settings) -> list[str]:
    text = fill(sql, settings)
    without_comments = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [stmt.strip() for stmt in without_comments.split(";") if stmt.strip()]


def query(name: str, settings: Settings) -> str:
    """A named query from clickhouse/queries/, ready for client.query(sql, parameters=…)."""
    return fill((resources.files("cdrflow.clickhouse") / "queries" / f"{name}.sql").read_text(), settings)
