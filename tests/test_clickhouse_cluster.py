"""Cluster mode: every migration renders ON CLUSTER DDL that ClickHouse parses; single node unchanged."""
from __future__ import annotations

import re

import pytest
from cdrflow.clickhouse.cluster import to_cluster
from cdrflow.clickhouse.migrate import load_migrations, migrate, plan
from cdrflow.infra.config import Settings


@pytest.fixture
def cluster_plan():
    return plan(Settings(clickhouse_cluster="cdrflow"))


def test_every_migration_renders_for_the_cluster(cluster_plan):
    numbered, repeatable = load_migrations()
    assert [m.name for m, _ in cluster_plan] == ["bookkeeping"] + [m.name for m in numbered + repeatable]
    for migration, ddl in cluster_plan:
        assert ddl, migration.name
        for statement in ddl:
            if statement.startswith("INSERT INTO"):   # a backfill: data, not DDL, into the Distributed table
                assert "_local" not in statement, statement
                continue
            assert "ON CLUSTER cdrflow" in statement, statement
            assert not re.search(r"ENGINE\s*=\s*(?!Replicated|Distributed)\w*MergeTree", statement), statement


def test_each_mergetree_table_gets_a_replicated_local_table_and_a_distributed_one(cluster_plan):
    ddl = "\n".join(s for _, stmts in cluster_plan for s in stmts)
    for table, engine in [("cdr", "ReplacingMergeTree"), ("interconnect_minute", "AggregatingMergeTree"),
                          ("number_blocks", "MergeTree"), ("incidents", "ReplacingMergeTree"),
                          ("schema_migrations", "MergeTree")]:
        assert re.search(rf"cdrflow\.{table}_local ON CLUSTER cdrflow\s*\(.*?ENGINE = Replicated{engine}\("
                         rf"'/clickhouse/tables/{{shard}}/cdrflow/{table}_local', '{{replica}}'", ddl, re.S), table
        assert f"cdrflow.{table} ON CLUSTER cdrflow AS cdrflow.{table}_local ENGINE = Distributed(" in ddl
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/cdrflow/cdr_local', '{replica}', stored_at)" in ddl
    assert "Distributed('cdrflow', 'cdrflow', 'cdr_local', cityHash64(cdr_id))" in ddl


def test_views_keep_their_names_and_materialised_views_stay_shard_local(cluster_plan):
    ddl = [s for _, stmts in cluster_plan for s in stmts]
    mv = next(s for s in ddl if "interconnect_minute_mv" in s)
    assert "TO cdrflow.interconnect_minute_local AS" in mv and "FROM cdrflow.cdr_local" in mv
    view = next(s for s in ddl if s.startswith("CREATE VIEW IF NOT EXISTS cdrflow.interconnect_quality "))
    assert "FROM cdrflow.interconnect_minute\n" in view          # the Distributed table: all shards
    retention = [s for s in ddl if "MODIFY TTL" in s]
    assert len(retention) == 1
    assert retention[0].startswith("ALTER TABLE cdrflow.cdr_local ON CLUSTER cdrflow MODIFY TTL")
    # a new column reaches the shards' tables and the Distributed table over them
    added = [s.split(" ADD COLUMN")[0] for s in ddl
             if s.startswith("ALTER TABLE") and "ADD COLUMN IF NOT EXISTS call_class" in s]
    assert added == ["ALTER TABLE cdrflow.cdr_local ON CLUSTER cdrflow", "ALTER TABLE cdrflow.cdr ON CLUSTER cdrflow"]
    # a backfill's target is emptied where its rows live: every shard's local table
    emptied = [s for s in ddl if s.startswith("TRUNCATE")]
    assert emptied == ["TRUNCATE TABLE IF EXISTS cdrflow.tenant_calls_by_caller_local ON CLUSTER cdrflow"]


def test_cluster_ddl_parses(cluster_plan, clickhouse):
    _, client = clickhouse
    for _, ddl in cluster_plan:
        for statement in ddl:
            formatted = client.query("SELECT formatQuery({sql:String})", parameters={"sql": statement}).result_rows
            assert "ON CLUSTER" in formatted[0][0] or statement.startswith("INSERT INTO")


def test_unknown_statement_shapes_are_refused():
    with pytest.raises(ValueError, match="no cluster form"):
        to_cluster("DROP TABLE cdrflow.cdr", "c", {"cdr"})
    with pytest.raises(ValueError, match="invalid cluster name"):
        to_cluster("CREATE DATABASE IF NOT EXISTS x", "c; DROP", set())


def test_single_node_migrations_still_run_and_rerun(clickhouse):
    settings, client = clickhouse
    assert all("ON CLUSTER" not in s for _, stmts in plan(settings) for s in stmts)
    assert migrate(client, settings) == ["R_retention.sql"]    # numbered ones ran in the fixture
    versions = [r[0] for r in
                client.query("SELECT version FROM cdrflow.schema_migrations ORDER BY version").result_rows]
    assert versions == [m.version for m in load_migrations()[0]]
