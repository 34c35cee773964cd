"""Numbered, append-only SQL migrations with a table recording what ran; safe to run again.

Files in migrations/: NNNN_name.sql run once each, in order; R_name.sql ("repeatable") run on
every migrate after them. Placeholders {database} and {retention_days} come from Settings.
With `clickhouse_cluster` set, every statement is rewritten for the cluster by cluster.py.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from cdrflow.infra.config import Settings

from .cluster import replicated_tables, to_cluster
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


_BOOKKEEPING = ("CREATE DATABASE IF NOT EXISTS {database};"
                "CREATE TABLE IF NOT EXISTS {database}.schema_migrations (version UInt32, name String, "
                "checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
                "ENGINE = MergeTree ORDER BY version")


def plan(settings: Settings) -> list[tuple[Migration, list[str]]]:
    """Every migration (bookkeeping first, as version -1) with the statements it runs on this ClickHouse."""
    numbered, repeatable = load_migrations()
    migrations = [Migration(-1, "bookkeeping", _BOOKKEEPING), *numbered, *repeatable]
    single = [(m, statements(m.sql, settings)) for m in migrations]
    cluster = settings.clickhouse_cluster
    if not cluster:
        return single
    replicated = replicated_tables([s for _, stmts in single for s in stmts])
    return [(m, [c for s in stmts for c in to_cluster(s, cluster, replicated)]) for m, stmts in single]


def migrate(client: Client, settings: Settings) -> list[str]:
    """Apply what has not run yet; returns the names applied (repeatables included)."""
    db = statements("{database}", settings)[0]  # validated name
    (_, bookkeeping), *migrations = plan(settings)
    for statement in bookkeeping:
        client.command(statement)
    done = {row[0] for row in client.query(f"SELECT version FROM {db}.schema_migrations").result_rows}
    # On a cluster the record goes through a Distributed table: insert synchronously so the next
    # migrate (any pod, any replica) sees it.
    record_settings = {"insert_distributed_sync": 1} if settings.clickhouse_cluster else None
    applied = []
    for migration, ddl in migrations:
        if migration.version and migration.version in done:
            continue
        for statement in ddl:
            client.command(statement)
        if migration.version:
            client.insert(f"{db}.schema_migrations", [[migration.version, migration.name, migration.checksum]],
                          column_names=["version", "name", "checksum"], settings=record_settings)
        applied.append(migration.name)
    return applied
