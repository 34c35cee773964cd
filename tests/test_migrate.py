"""The migration runner on a real chdb: an edited migration that ran is refused, a crash at any
statement of 0009's backfill leaves one copy of each call after the re-run, a second migrate
applies no numbered migration, and a statement that is not safe to re-run is refused up front.
A worker never migrates: it refuses a schema that is not this release's, saying what to run."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cdrflow.clickhouse.client import connect
from cdrflow.clickhouse.migrate import (Migration, MigrationError, SchemaMismatch, check_rerunnable, check_schema,
                                       load_migrations, migrate)
from cdrflow.infra.config import Settings

from support.stack import CDRFLOW, stack_env
from support.worker import WorkerProcess

ROOT = Path(__file__).resolve().parents[1]
NUMBERED = sorted(p.name for p in (ROOT / "clickhouse" / "migrations").glob("[0-9][0-9][0-9][0-9]_*.sql"))
LATEST = NUMBERED[-1][:4]


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """(settings, client) on an empty embedded ClickHouse: nothing migrated yet."""
    monkeypatch.setenv("CDRFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDRFLOW_RETENTION_DAYS", "5000")
    settings = Settings()
    client = connect(settings)
    yield settings, client
    client.close()


class Crash(Exception):
    pass


class CrashingClient:
    """The real client, stopping as a crash would at the first statement that matches `at`:
    before running it, after running it, or after running it on part of its rows."""

    def __init__(self, client, at: str, when: str):
        self.client, self.at, self.when = client, re.compile(at, re.S | re.M), when
        self.commands: list[str] = []

    def command(self, sql, **kwargs):
        if not self.at.search(sql):
            self.commands.append(sql)
            return self.client.command(sql, **kwargs)
        if self.when == "after":
            self.client.command(sql, **kwargs)
        elif self.when == "partway":
            self.client.command(f"{sql}\nORDER BY start_time LIMIT 2", **kwargs)
        raise Crash(sql)

    def query(self, *args, **kwargs):
        return self.client.query(*args, **kwargs)


# tenant, remote number, call class, minute: 4 calls with an outside number, hand-counted
# (the withheld caller and the internal call have none, so tenant_calls_by_caller skips them)
CALLS = [("acme", "+442071234567", "incoming", 0), ("acme", "+442071234567", "missed", 1),
         ("acme", "+14155550100", "outgoing", 2), ("acme", "", "incoming", 3),
         ("acme", "+14155550101", "internal", 4), ("beta", "+33123456789", "incoming", 5)]
BY_CALLER = 4

BACKFILL = r"^INSERT INTO cdrflow\.tenant_calls_by_caller\b"


def insert_calls(client, calls) -> None:
    for tenant, remote, call_class, minute in calls:
        client.command(
            "INSERT INTO cdrflow.tenant_calls (tenant, start_time, end_time, cdr_id, call_class, tenant_number, "
            "remote_number) SELECT {tenant:String}, toDateTime64('2024-03-01 09:00:00', 3, 'UTC') + "
            "toIntervalMinute({minute:UInt32}), toDateTime64('2024-03-01 09:00:30', 3, 'UTC') + "
            "toIntervalMinute({minute:UInt32}), generateUUIDv4(), {cls:String}, '+12125550000', {remote:String}",
            parameters={"tenant": tenant, "minute": minute, "cls": call_class, "remote": remote})


def copies(client) -> list[tuple]:
    return client.query("SELECT tenant, remote_number, start_time, count() FROM cdrflow.tenant_calls_by_caller "
                        "GROUP BY ALL ORDER BY ALL").result_rows


def numbered_names() -> list[str]:
    return [m.name for m in load_migrations()[0]]


@pytest.mark.parametrize("crash", [
    (BACKFILL, "partway"),                                          # the copy stopped midway
    (BACKFILL, "after"),                                            # copied, view not created yet
    (r"^CREATE MATERIALIZED VIEW IF NOT EXISTS cdrflow\.tenant_calls_by_caller_mv\b", "after"),  # not recorded
    (r"^INSERT INTO cdrflow\.schema_migrations\b", "before"),       # recording 0009: all of it ran
])
def test_a_crash_anywhere_in_0009_then_a_rerun_leaves_one_copy_of_each_call(fresh, crash):
    settings, client = fresh
    # calls stored before 0009 exists, as on a database that ran up to 0007
    with pytest.raises(Crash):
        migrate(CrashingClient(client, r"^CREATE TABLE IF NOT EXISTS cdrflow\.tenant_calls_by_caller\b", "before"),
                settings)
    insert_calls(client, CALLS)
    with pytest.raises(Crash):
        migrate(CrashingClient(client, *crash), settings)

    assert migrate(client, settings) == ["0009_tenant_calls_by_caller.sql", "0010_tenant_views_by_caller.sql",
                                         "0011_quarantine_checkpoint.sql", "0012_alerting_incident_actions.sql",
                                         "0013_noc.sql", "0014_call_spans_starts_first.sql",
                                         "0015_trunk_load_compact.sql", "R_retention.sql"]
    rows = copies(client)
    assert len(rows) == BY_CALLER and all(row[3] == 1 for row in rows), rows
    assert {(r[0], r[1]) for r in rows} == {("acme", "+442071234567"), ("acme", "+14155550100"),
                                            ("beta", "+33123456789")}

    # a second migrate runs no numbered migration and copies nothing again
    assert migrate(client, settings) == ["R_retention.sql"]
    assert len(copies(client)) == BY_CALLER
    recorded = [r[0] for r in client.query("SELECT name FROM cdrflow.schema_migrations ORDER BY version").result_rows]
    assert recorded == numbered_names()
    # the view exists once: a new call reaches tenant_calls_by_caller exactly once
    insert_calls(client, [("beta", "+33123456780", "outgoing", 9)])
    assert len(copies(client)) == BY_CALLER + 1 and all(row[3] == 1 for row in copies(client))


def rerecord(client, checksums: dict[str, str]) -> None:
    """schema_migrations as if the files named had had these checksums when they ran."""
    client.command("TRUNCATE TABLE cdrflow.schema_migrations")
    for m in load_migrations()[0]:
        client.command("INSERT INTO cdrflow.schema_migrations (version, name, checksum) "
                       "SELECT {v:UInt32}, {n:String}, {c:String}",
                       parameters={"v": m.version, "n": m.name, "c": checksums.get(m.name, m.checksum)})


def test_an_edited_migration_that_ran_is_refused_before_anything_runs(fresh):
    settings, client = fresh
    migrate(client, settings)
    rerecord(client, {"0003_numbers.sql": "0123456789abcdef"})
    current = next(m.checksum for m in load_migrations()[0] if m.name == "0003_numbers.sql")
    watching = CrashingClient(client, r"(?!)", "before")     # matches nothing: records every command
    with pytest.raises(MigrationError) as refused:
        migrate(watching, settings)
    message = str(refused.value)
    assert "migrations/0003_numbers.sql changed after it ran" in message
    assert f"recorded checksum 0123456789abcdef, file now {current}" in message
    assert "new numbered migration" in message
    # only the runner's own bookkeeping ran: not the repeatable, not a numbered migration
    assert all("schema_migrations" in sql or sql.startswith("CREATE DATABASE") for sql in watching.commands)


def test_an_accepted_earlier_checksum_is_not_an_edit(fresh):
    settings, client = fresh
    migrate(client, settings)
    # 0009 as it shipped before its TRUNCATE: the line in the file accepts that text's checksum
    rerecord(client, {"0009_tenant_calls_by_caller.sql": "8239e2681b6ece3c"})
    assert migrate(client, settings) == ["R_retention.sql"]
    with pytest.raises(MigrationError, match="0010_tenant_views_by_caller.sql"):
        rerecord(client, {"0010_tenant_views_by_caller.sql": "8239e2681b6ece3c"})
        migrate(client, settings)


def _one(name: str, *stmts: str) -> list[tuple[Migration, list[str]]]:
    return [(Migration(1, name, ""), list(stmts))]


def test_statements_unsafe_to_rerun_are_refused():
    with pytest.raises(MigrationError, match=r"0042_x.sql, statement 1 .*emptying of db\.t \(TRUNCATE\)"):
        check_rerunnable(_one("0042_x.sql", "INSERT INTO db.t SELECT * FROM db.s"))
    fed = [(Migration(1, "0001_a.sql", ""), ["CREATE MATERIALIZED VIEW IF NOT EXISTS db.t_mv TO db.t AS SELECT 1"]),
           (Migration(2, "0002_b.sql", ""), ["TRUNCATE TABLE db.t", "INSERT INTO db.t SELECT * FROM db.s"])]
    with pytest.raises(MigrationError, match="0002_b.sql, statement 2 .*materialised view"):
        check_rerunnable(fed)
    with pytest.raises(MigrationError, match="UPDATE x = x \\+ 1"):
        check_rerunnable(_one("0042_x.sql",
                              "ALTER TABLE db.t ADD COLUMN IF NOT EXISTS y UInt8, UPDATE x = x + 1 WHERE 1"))
    with pytest.raises(MigrationError, match="not safe to run twice"):
        check_rerunnable(_one("0042_x.sql", "CREATE TABLE db.t (x UInt8) ENGINE = Memory"))
    check_rerunnable(_one("0042_x.sql", "TRUNCATE TABLE IF EXISTS db.t", "INSERT INTO db.t SELECT * FROM db.s",
                          "ALTER TABLE db.s ADD COLUMN IF NOT EXISTS y Decimal(10, 2), MODIFY TTL d + INTERVAL 1 DAY"))


def test_the_runner_keeps_its_sql_in_sql_files():
    source = (ROOT / "clickhouse" / "migrate.py").read_text()
    code = re.sub(r'"""(.|\n)*?"""', "", source)   # docstrings may name statements
    assert "{database}" not in code and "schema_migrations" not in code
    assert "CREATE TABLE IF NOT EXISTS {database}.schema_migrations" in (
        ROOT / "clickhouse" / "queries" / "migrations_bookkeeping.sql").read_text()


def test_the_schema_check_names_what_differs_and_what_to_run(fresh):
    settings, client = fresh
    with pytest.raises(SchemaMismatch, match=r"^the schema is not migrated \(no migration has run\), this worker "
                                             rf"needs {LATEST}: run `cdrflow migrate`$"):
        check_schema(client, settings)
    migrate(client, settings)
    assert check_schema(client, settings) is None   # this release's migrations, unedited: no complaint
    rerecord(client, {"0003_numbers.sql": "0123456789abcdef"})
    with pytest.raises(SchemaMismatch, match=r"^migrations/0003_numbers\.sql changed after it ran"):
        check_schema(client, settings)
    rerecord(client, {})
    client.command("INSERT INTO cdrflow.schema_migrations (version, name, checksum) "
                   "SELECT 99, '0099_from_a_newer_release.sql', '0123456789abcdef'")
    # a newer release's migration: the worker runs on (migrations only add), and says so
    assert check_schema(client, settings) == (f"the schema is at 0099, newer than this worker's {LATEST} (migrations "
                                              "0099 are not in this release): running on it, since migrations only add")


def test_a_worker_refuses_to_start_on_an_older_schema_until_cdrflow_migrate_ran(settings, tmp_path):
    """A database an older release migrated (up to 0009): `cdrflow worker` exits with the message
    saying what to run; after `cdrflow migrate` (what WorkerProcess.start runs first) it starts."""
    client = connect(settings)
    with pytest.raises(Crash):
        migrate(CrashingClient(client, r"^CREATE OR REPLACE VIEW cdrflow\.tenant_call_types\b", "before"), settings)
    client.close()
    refused = subprocess.run([sys.executable, "-m", "cdrflow", "worker"], env=dict(os.environ), capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0
    after_0009 = [name for name in NUMBERED if name > "0010"]
    assert (f"the schema is at 0009, this worker needs {LATEST} (not run: {', '.join(after_0009)}): "
            "run `cdrflow migrate`") in refused.stdout + refused.stderr
    worker = WorkerProcess(settings, tmp_path / "worker.log").start()      # migrates, then /health answers
    worker.stop()
    assert f"applied: {', '.join(after_0009)}" in " ".join(
        worker.log.read_text().split())


def test_up_runs_cdrflow_migrate_first_and_starts_nothing_when_it_fails(fresh, tmp_path):
    """`cdrflow up` migrates in a process of its own before anything starts: a migration refused
    (here: one edited after it ran) stops `up` with migrate's message, and no worker is started."""
    settings, client = fresh
    migrate(client, settings)
    rerecord(client, {"0003_numbers.sql": "0123456789abcdef"})
    client.close()          # the path is up's now
    env = stack_env(settings.resolved_data_dir)
    up = subprocess.run([CDRFLOW, "up", "--duration", "5"], env=env, capture_output=True, text=True, timeout=120)
    said = " ".join((up.stdout + up.stderr).split())
    assert up.returncode != 0, said
    assert "`cdrflow migrate` failed (exit 1), so no worker was started" in said
    assert "migrations/0003_numbers.sql changed after it ran" in said
    logs = settings.resolved_data_dir / "logs"
    assert "changed after it ran" in (logs / "migrate.log").read_text() and not (logs / "worker.log").exists()
