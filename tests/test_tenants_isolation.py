"""Isolation: grant SQL parses; views cannot be called without a tenant; one tenant's views never
return another's rows."""
from __future__ import annotations

import re

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from cdrflow.clickhouse.migrate import load_migrations
from cdrflow.tenants.access import (
    GUARDED_TABLES,
    check_tenant,
    grant_statements,
    quote_literal,
)
from cdrflow.tenants.views import VIEWS, save_analysis_query, view_query

from support.tenant_traffic import FROM, TENANTS, TO, ask, generate, store


@pytest.fixture
def stored(clickhouse):
    settings, client = clickhouse
    calls = generate(1500, seed=11, days=3)
    settings, _ = store(settings, client, calls)
    for tenant in TENANTS:
        client.command(*save_analysis_query(settings, tenant, "all", "+"))
    return settings, client, calls


def test_grant_sql_parses_and_names_only_tenant_objects(clickhouse):
    settings, client = clickhouse
    statements = grant_statements(settings, "acme", "pa'ss`word\\")
    for sql in statements:
        client.query(f"EXPLAIN AST {sql}")                      # syntax, as far as chdb can check
    assert sum(s.startswith("CREATE ROW POLICY") for s in statements) == len(GUARDED_TABLES)
    granted = [s for s in statements if s.startswith("GRANT")]
    assert all(" TO `tenant_acme`" in s for s in granted)
    assert {s.split(" ON ")[1].split(" TO ")[0] for s in granted} == (
        {f"`cdrflow`.`{t}`" for t in GUARDED_TABLES} | {f"`cdrflow`.`tenant_{v}`" for v in VIEWS})
    assert "USING tenant = 'acme'" in statements[1]
    # the password survives quoting: ClickHouse reads back the same literal
    assert client.query(f"SELECT {quote_literal(chr(39) + 'x`y' + chr(92))}").result_rows[0][0] == "'x`y\\"


def test_every_table_a_tenant_view_reads_is_guarded():
    """A view reading a table without a row policy would show a tenant everyone's rows."""
    numbered, _ = load_migrations()
    views = {f"tenant_{v}" for v in VIEWS}
    read = set()
    for m in numbered:
        bodies = re.findall(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?\{database\}\.tenant_\w+\s(.*?);", m.sql,
                            re.S)
        for body in bodies:
            read |= set(re.findall(r"\{database\}\.(\w+)", body))
    assert read - views == set(GUARDED_TABLES)


@pytest.mark.parametrize("bad", ["acme' OR 1=1 --", "ACME", "", "a b", "x`y", "a" * 64])
def test_tenant_ids_that_could_break_out_are_refused(bad):
    with pytest.raises(ValueError):
        check_tenant(bad)


def test_every_view_requires_the_tenant(stored):
    settings, client, _ = stored
    for view in VIEWS:
        sql, params = view_query(settings, view, "acme", FROM, TO)
        without = re.sub(r"tenant = \{tenant:String\},\s*", "", sql)
        assert without != sql
        with pytest.raises(DatabaseError, match="UNKNOWN_QUERY_PARAMETER"):
            client.query(without, parameters={k: v for k, v in params.items() if k != "tenant"})
        # a parameterised view called without its parameters is refused (EMPTY_LIST_OF_COLUMNS_QUERIED)
        with pytest.raises(DatabaseError):
            client.query(f"SELECT * FROM {settings.clickhouse_database}.tenant_{view}")


def test_one_tenants_views_never_return_anothers_rows(stored):
    settings, client, calls = stored
    numbers = {t: {c.remote for c in calls if c.tenant == t} | {c.tenant_number for c in calls if c.tenant == t}
               for t in TENANTS}
    only_globex = numbers["globex"] - numbers["acme"]
    assert only_globex
    for view in VIEWS:
        rows = ask(stored, view, "acme", name="all")
        values = {v for row in rows for v in row.values() if isinstance(v, str)}
        assert not values & only_globex, view
        if view not in ("summary", "call_types", "channel_load"):   # these always answer a row of zeros
            assert ask(stored, view, "nobody", name="all") == [], view
    # a tenant that does not exist sees zero everywhere
    [empty] = ask(stored, "summary", "nobody")
    assert empty["calls"] == 0 and empty["cost"] == 0
    assert all(r["peak_concurrent"] == 0 for r in ask(stored, "channel_load", "nobody"))
    assert ask(stored, "call_types", "nobody")[0]["calls"] == 0
    # the notebook of one tenant does not see the other's calls even with a match-everything prefix
    acme_calls = sum(1 for c in calls if c.tenant == "acme" and c.call_class != "internal"
                     and FROM.timestamp() * 1000 <= c.start_ms < TO.timestamp() * 1000)
    assert len(ask(stored, "notebook", "acme", name="all")) == acme_calls


def test_grant_command_prints_sql_in_embedded_mode(tmp_path, monkeypatch):
    from cdrflow.cli.app import app
    from typer.testing import CliRunner

    monkeypatch.setenv("CDRFLOW_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["tenants", "grant", "acme", "--password", "s3cret"])
    assert result.exit_code == 0, result.output
    assert "CREATE ROW POLICY OR REPLACE `tenant_acme_tenant_calls`" in result.output
    bad = CliRunner().invoke(app, ["tenants", "grant", "acme' OR 1=1"])
    assert bad.exit_code == 1 and "GRANT" not in bad.output
