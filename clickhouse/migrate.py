"""Numbered, append-only SQL migrations with a table recording what ran; safe to run again.

Files in migrations/: NNNN_name.sql run once each, in order; R_name.sql ("repeatable") run on
every migrate after them. Placeholders {database} and {retention_days} come from Settings.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from cdrflow.config import Settings

from .sql import statements

_NUMBERED = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int          # 0 for repeatable migrations
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


def load_migrations() -> tuple[list[Migration], list[Migration]]:
    folder = resources.files("cdrflow.clickhouse") / "migrations"
    numbered, repeatable = [], []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if match := _NUMBERED.match(entry.name):
            numbered.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
        elif entry.name.startswith("R_") and entry.name.endswith(".sql"):
            repeatable.append(Migration(0, entry.name, entry.read_text()))
    return numbered, repeatable


def migrate(client: Client, settings: Settings) -> list[str]:
    """Apply what has not run yet; returns the names applied (repeatables included)."""
    db = statements("{database}", settings)[0]  # validated name
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(f"CREATE TABLE IF NOT EXISTS {db}.schema_migrations (version UInt32, name String, "
                   "checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
                   "ENGINE = MergeTree ORDER BY version")
    done = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    numbered, repeatable = load_migrations()
    applied = []
    for migration in numbered:
        if migration.version in done:
            continue
        for statement in statements(migration.sql, settings):
            client.command(statement)
        client.insert(f"{db}.schema_migrations", [[migration.version, migration.name, migration.checksum]],
                      column_names=["version", "name", "checksum"])
        applied.append(migration.name)
    for migration in repeatable:
        for statement in statements(migration.sql, settings):
            client.command(statement)
        applied.append(migration.name)
    return applied
