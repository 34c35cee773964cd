"""The one way SQL text is made ready to run: files of clickhouse/ (migrations/, queries/) filled here.

Two kinds of braces, never confused:
- `{database}`, `{retention_days}` and identifiers a caller names (`query("x", settings, view=…)`)
  are filled here, each checked first (an identifier, or an integer): the only text ever put into SQL;
- `{name:Type}` are server-side parameters: ClickHouse binds them, and every value travels that way
  (date-times as `utc(moment)` text).
Grafana's `${variable}` in dashboard SQL is left for Grafana.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from importlib import resources

from cdrflow.infra.config import Settings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")       # no ':Type': filled here
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):")                  # {name:Type}: bound by the server


def identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"invalid identifier {name!r}")
    return name


def fill(sql: str, settings: Settings, **identifiers: str) -> str:
    """Replaces every `{placeholder}`: {database}, {retention_days} and the identifiers given;
    a placeholder without a value raises (a typo never reaches ClickHouse)."""
    try:
        database = identifier(settings.clickhouse_database)
    except ValueError:
        raise ValueError(f"invalid database name {settings.clickhouse_database!r}") from None
    values = {"database": database, "retention_days": str(int(settings.retention_days)),
              **{name: identifier(value) for name, value in identifiers.items()}}

    def value(match: re.Match) -> str:
        if match[1] not in values:
            raise ValueError(f"no value for placeholder {{{match[1]}}}")
        return values[match[1]]
    return _PLACEHOLDER.sub(value, sql)


def table(name: str, settings: Settings) -> str:
    """`database.name`, checked: the table argument of client.insert."""
    return fill(f"{{database}}.{identifier(name)}", settings)


def statements(sql: str, settings: Settings) -> list[str]:
    """A file of `;`-separated statements, filled, without comment lines."""
    text = fill(sql, settings)
    without_comments = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [stmt.strip() for stmt in without_comments.split(";") if stmt.strip()]


def source(name: str) -> str:
    """The text of clickhouse/queries/<name>.sql as written (placeholders unfilled)."""
    return (resources.files("cdrflow.clickhouse") / "queries" / f"{identifier(name)}.sql").read_text()


def query(name: str, settings: Settings, **identifiers: str) -> str:
    """A named query from clickhouse/queries/, ready for client.query(sql, parameters=…)."""
    return fill(source(name), settings, **identifiers)


def count_of(sql: str) -> str:
    """The number of rows a query returns, counted in ClickHouse: how a bench times a question
    without shipping its rows into Python. The one place a query goes inside another."""
    if ";" in _without_comments(sql):
        raise ValueError("count_of takes one query")
    return f"SELECT count() FROM (\n{sql}\n)"


def parameters(sql: str) -> list[str]:
    """The server-side parameters a query takes, in order of first use."""
    return list(dict.fromkeys(_PARAMETER.findall(_without_comments(sql))))


def _without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def utc(moment: datetime) -> str:
    """A DateTime / DateTime64(3, 'UTC') parameter as text: the instant in UTC, to the millisecond.
    A naive datetime is read as UTC (clickhouse-connect itself would send it as local time)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
