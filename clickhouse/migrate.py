"""Numbered, append-only SQL migrations with a table recording what ran; safe to run again.

Files in migrations/: NNNN_name.sql run once each, in order; R_name.sql ("repeatable") run on
every migrate after them. Placeholders {database} and {retention_days} come from Settings.
With `clickhouse_cluster` set, every statement is rewritten for the cluster by cluster.py.
The runner's own table and queries are queries/migration*.sql.

A migration that ran is never edited. schema_migrations keeps the checksum of each file as it
ran, and migrate refuses to run anything while a file no longer matches it: a change is a new
numbered migration. A file may name, in a line `-- accepted checksum: <16 hex>`, an earlier text
of itself that left the same schema (how a shipped migration is made re-runnable, below).

Re-running after a crash. A numbered migration is recorded only after its last statement, so after
a crash at any statement the next migrate runs the whole file again from its first statement.
Each statement must therefore leave the same result however often it runs, and `plan` refuses
(before anything runs) a statement not of these shapes:
- DDL that names its own end state: CREATE … IF NOT EXISTS, CREATE OR REPLACE VIEW,
  ALTER TABLE … ADD … IF NOT EXISTS / DROP … IF EXISTS / MODIFY TTL / MODIFY SETTING;
- a backfill INSERT … SELECT into a table that the same migration empties first (TRUNCATE TABLE)
  and that no materialised view of an earlier statement fills: the copy is then whole and single
  however often it runs, even after an INSERT that stopped midway with part of its rows written,
  or a re-run that finds the view a crashed run created. This holds because migrations run before
  workers write.
No ALTER … UPDATE / DELETE: what a re-run of a mutation does depends on the rows it already changed.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from cdrflow.infra.config import Settings

from .cluster import replicated_tables, to_cluster
from .sql import query, source, statements

_NUMBERED = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_ACCEPTED = re.compile(r"^-- accepted checksum: ([0-9a-f]{16})\b", re.M)


class MigrationError(RuntimeError):
    """A migration that may not run: its file changed since it ran, or a statement is not re-runnable."""


class SchemaMismatch(MigrationError):
    """The database's migrations are not the ones this release ships: a worker refuses to start on it."""


@dataclass(frozen=True)
class Migration:
    version: int          # 0 for repeatable migrations
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def accepted_checksums(self) -> set[str]:
        return {self.checksum, *_ACCEPTED.findall(self.sql)}


def load_migrations() -> tuple[list[Migration], list[Migration]]:
    folder = resources.files("cdrflow.clickhouse") / "migrations"
    numbered, repeatable = [], []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if match := _NUMBERED.match(entry.name):
            numbered.append(Migration(int(match.group(1)), entry.name, entry.read_text()))
        elif entry.name.startswith("R_") and entry.name.endswith(".sql"):
            repeatable.append(Migration(0, entry.name, entry.read_text()))
    return numbered, repeatable


def plan(settings: Settings) -> list[tuple[Migration, list[str]]]:
    """Every migration (bookkeeping first, as version -1) with the statements it runs on this ClickHouse."""
    numbered, repeatable = load_migrations()
    migrations = [Migration(-1, "bookkeeping", source("migrations_bookkeeping")), *numbered, *repeatable]
    single = [(m, statements(m.sql, settings)) for m in migrations]
    check_rerunnable(single)
    cluster = settings.clickhouse_cluster
    if not cluster:
        return single
    replicated = replicated_tables([s for _, stmts in single for s in stmts])
    return [(m, [c for s in stmts for c in to_cluster(s, cluster, replicated)]) for m, stmts in single]


_RERUNNABLE = re.compile(r"^(CREATE (DATABASE|TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS|CREATE OR REPLACE VIEW)\s")
_ALTER = re.compile(r"^ALTER TABLE \w+\.\w+\s+(?P<clauses>.*)$", re.S)
_ALTER_CLAUSE = re.compile(r",\s*(?=(?:ADD|DROP|MODIFY|RENAME|CLEAR|COMMENT|MATERIALIZE|UPDATE|DELETE)\b)")
_RERUNNABLE_ALTER = re.compile(
    r"^(ADD (COLUMN|INDEX) IF NOT EXISTS|DROP (COLUMN|INDEX) IF EXISTS|MODIFY (TTL|SETTING))\s")
_TRUNCATE = re.compile(r"^TRUNCATE TABLE (?:IF EXISTS )?(?P<table>\w+\.\w+)$")
_INSERT = re.compile(r"^INSERT INTO (?P<table>\w+\.\w+)\s.*\bSELECT\b", re.S)
_MV_TARGET = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS \w+\.\w+\s+TO\s+(?P<table>\w+\.\w+)")


def check_rerunnable(migrations: list[tuple[Migration, list[str]]]) -> None:
    """Raises MigrationError for the first statement that a re-run after a crash could get wrong."""
    fed_by_views: set[str] = set()
    for migration, stmts in migrations:
        emptied: set[str] = set()
        for number, statement in enumerate(stmts, 1):
            where = f"{migration.name}, statement {number} ({statement[:60]!r}…)"
            if m := _MV_TARGET.match(statement):
                fed_by_views.add(m["table"])
            if m := _TRUNCATE.match(statement):
                emptied.add(m["table"])
            elif m := _INSERT.match(statement):
                if m["table"] not in emptied:
                    raise MigrationError(f"{where}: a backfill must follow the emptying of {m['table']} (TRUNCATE) "
                                         "in the same migration, or a re-run after a crash copies rows twice")
                if m["table"] in fed_by_views:
                    raise MigrationError(f"{where}: {m['table']} is already filled by a materialised view; "
                                         "backfill it before the view is created")
            elif m := _ALTER.match(statement):
                bad = [c for c in _ALTER_CLAUSE.split(m["clauses"]) if not _RERUNNABLE_ALTER.match(c.strip())]
                if bad:
                    raise MigrationError(f"{where}: ALTER clause {bad[0].strip()[:60]!r} is not safe to run twice "
                                         "(use … IF [NOT] EXISTS, MODIFY TTL or MODIFY SETTING; no mutations)")
            elif not _RERUNNABLE.match(statement):
                raise MigrationError(f"{where}: not safe to run twice; see clickhouse/migrate.py for the shapes "
                                     "allowed")


def check_unchanged(recorded: dict[int, str], numbered: list[Migration]) -> None:
    """Raises MigrationError when a migration's file differs from the one that ran."""
    for migration in numbered:
        ran = recorded.get(migration.version)
        if ran is not None and ran not in migration.accepted_checksums:
            raise MigrationError(
                f"migrations/{migration.name} changed after it ran: recorded checksum {ran}, file now "
                f"{migration.checksum}. A migration that ran is never edited: restore the file and put the "
                "change in a new numbered migration.")


def migrate(client: Client, settings: Settings) -> list[str]:
    """Apply what has not run yet; returns the names applied (repeatables included)."""
    (_, bookkeeping), *migrations = plan(settings)
    for statement in bookkeeping:
        client.command(statement)
    applied_rows = client.query(query("migrations_applied", settings)).result_rows
    recorded = {version: checksum for version, _, checksum in applied_rows}
    check_unchanged(recorded, [m for m, _ in migrations if m.version])
    # On a cluster, inserts go through Distributed tables: synchronously, so a backfill is on the shards
    # before the next statement (a crash cannot leave a queued copy behind) and the next migrate, on
    # any pod and replica, sees the record.
    run_settings = {"insert_distributed_sync": 1} if settings.clickhouse_cluster else None
    applied = []
    for migration, ddl in migrations:
        if migration.version in recorded:
            continue
        for statement in ddl:
            client.command(statement, settings=run_settings)
        if migration.version:
            client.command(query("migration_record", settings), settings=run_settings, parameters={
                "version": migration.version, "name": migration.name, "checksum": migration.checksum})
        applied.append(migration.name)
    return applied


def check_schema(client: Client, settings: Settings) -> str | None:
    """Raises SchemaMismatch unless the database ran every one of this release's numbered migrations,
    unedited; returns a warning when it also ran newer ones (None otherwise). Workers call it instead
    of migrating: `cdrflow migrate` is the one migration path (run by `cdrflow up` before it starts
    the worker, and by the Helm chart's pre-install/pre-upgrade Job)."""
    numbered, _ = load_migrations()
    present = client.query(query("migrations_present", settings),
                           parameters={"database_name": settings.clickhouse_database}).result_rows[0][0]
    recorded = ({version: checksum for version, _, checksum in
                 client.query(query("migrations_applied", settings)).result_rows} if present else {})
    if problem := schema_mismatch(recorded, numbered):
        raise SchemaMismatch(problem)
    return newer_schema(recorded, numbered)


def schema_mismatch(recorded: dict[int, str], numbered: list[Migration]) -> str | None:
    """What differs between the migrations recorded (version → checksum) and this release's, as the
    message a refused worker prints (None: they match)."""
    needed = {m.version: m for m in numbered}
    latest = f"{max(needed):04d}"
    if not recorded:
        return f"the schema is not migrated (no migration has run), this worker needs {latest}: run `cdrflow migrate`"
    at = f"{max(recorded):04d}"
    missing = [needed[v].name for v in sorted(set(needed) - set(recorded))]
    if missing:
        return (f"the schema is at {at}, this worker needs {latest} (not run: {', '.join(missing)}): "
                "run `cdrflow migrate`")
    try:
        check_unchanged(recorded, numbered)
    except MigrationError as exc:
        return str(exc)
    return None


def newer_schema(recorded: dict[int, str], numbered: list[Migration]) -> str | None:
    """A warning when a newer release migrated the database, else None. Not a refusal: migrations only
    add (append-only, each statement re-runnable), so this release's tables are all there, and during
    a Helm upgrade the pre-upgrade Job migrates while the old release's workers still run and restart;
    refusing would crash-loop them (and a rollback's) until the new release is out."""
    unknown = sorted(set(recorded) - {m.version for m in numbered})
    if not unknown:
        return None
    return (f"the schema is at {max(recorded):04d}, newer than this worker's {max(m.version for m in numbered):04d} "
            f"(migrations {', '.join(f'{v:04d}' for v in unknown)} are not in this release): running on it, "
            "since migrations only add")
