"""Cluster mode: the single-node migration DDL rewritten for a ClickHouse cluster, statement by statement.

The migration files stay the one schema a DBA reads; with `clickhouse_cluster` set, each statement is
rewritten here instead of keeping a second copy of the SQL:

- a MergeTree-family table `t` becomes `t_local` (Replicated* of the same engine, ON CLUSTER) plus a
  Distributed table `t` on top, so readers and writers keep using the single-node name;
- materialised views read and write the `_local` tables: each shard aggregates the rows it stores,
  and the Distributed table sums the shards at query time (all targets are mergeable aggregates);
- plain and parameterised views are created (or replaced) ON CLUSTER over the Distributed names;
- INSERT … SELECT backfills run as they are: Distributed to Distributed, once;
- TRUNCATE TABLE (which empties a backfill's target first) goes to the `_local` table ON CLUSTER;
- ALTER TABLE goes to the `_local` table ON CLUSTER (TTL lives where the parts are); column changes
  go to the Distributed table as well.

A statement of any other shape raises: a new migration must not silently stay node-local.
"""
from __future__ import annotations

import re

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+)\s", re.S)
_ENGINE = re.compile(r"ENGINE\s*=\s*(?P<engine>\w*MergeTree)(?:\((?P<args>[^)]*)\))?")
_CREATE_MV = re.compile(r"^CREATE MATERIALIZED VIEW IF NOT EXISTS (?P<db>\w+)\.(?P<name>\w+)\s+"
                        r"TO\s+(?P<rest>.*)$", re.S)
_CREATE_VIEW = re.compile(r"^(?P<create>CREATE VIEW IF NOT EXISTS|CREATE OR REPLACE VIEW) (?P<db>\w+)\.(?P<name>\w+)\s+"
                          r"(?P<rest>(?:SQL SECURITY \w+\s+)?AS\s.*)$", re.S)
_INSERT_SELECT = re.compile(r"^INSERT INTO \w+\.\w+\s.*\bSELECT\b", re.S)
_TRUNCATE = re.compile(r"^TRUNCATE TABLE (?P<exists>IF EXISTS )?(?P<db>\w+)\.(?P<name>\w+)$")
_ALTER_TABLE = re.compile(r"^ALTER TABLE (?P<db>\w+)\.(?P<name>\w+)\s+(?P<rest>.*)$", re.S)
_COLUMN_CHANGE = re.compile(r"^(ADD|DROP|MODIFY|RENAME) COLUMN\b")
_CREATE_DATABASE = re.compile(r"^CREATE DATABASE IF NOT EXISTS (?P<db>\w+)$")

LOCAL_SUFFIX = "_local"
# Rows that replace or merge each other must meet on one shard: shard those tables by their key.
SHARDING_KEYS = {"cdr": "cityHash64(cdr_id)", "incidents": "cityHash64(id)", "number_blocks": "first_number",
                 "schema_migrations": "version", "alarms": "cityHash64(id)"}


def replicated_tables(statements: list[str]) -> set[str]:
    """Names of the MergeTree-family tables these statements create: the ones that get a `_local` twin."""
    return {m.group("name") for s in statements if (m := _CREATE_TABLE.match(s)) and _ENGINE.search(s)}


def to_cluster(statement: str, cluster: str, replicated: set[str]) -> list[str]:
    """The cluster-mode statements for one single-node statement (already filled from Settings)."""
    if not _IDENTIFIER.match(cluster):
        raise ValueError(f"invalid cluster name {cluster!r}")
    on = f"ON CLUSTER {cluster}"
    if m := _CREATE_DATABASE.match(statement):
        return [f"{statement} {on}"]
    if (m := _CREATE_TABLE.match(statement)) and (engine := _ENGINE.search(statement)):
        return _replicated_table(statement, m.group("db"), m.group("name"), engine, cluster)
    if m := _CREATE_MV.match(statement):
        rest = _localise(m.group("rest"), m.group("db"), replicated)
        return [f"CREATE MATERIALIZED VIEW IF NOT EXISTS {m['db']}.{m['name']} {on} TO {rest}"]
    if m := _CREATE_VIEW.match(statement):
        return [f"{m['create']} {m['db']}.{m['name']} {on} {m['rest']}"]
    if _INSERT_SELECT.match(statement):
        # a one-off backfill: Distributed to Distributed, run once, sharded like any insert
        return [statement]
    if (m := _TRUNCATE.match(statement)) and m.group("name") in replicated:
        return [f"TRUNCATE TABLE {m['exists'] or ''}{m['db']}.{m['name']}{LOCAL_SUFFIX} {on}"]
    if (m := _ALTER_TABLE.match(statement)) and m.group("name") in replicated:
        local = [f"ALTER TABLE {m['db']}.{m['name']}{LOCAL_SUFFIX} {on} {m['rest']}"]
        # a column change also reshapes the Distributed table, or it would not read the column
        distributed = [f"ALTER TABLE {m['db']}.{m['name']} {on} {m['rest']}"] if _COLUMN_CHANGE.match(m["rest"]) else []
        return local + distributed
    raise ValueError(f"no cluster form for statement: {statement[:120]!r}")


def _replicated_table(statement: str, db: str, name: str, engine: re.Match, cluster: str) -> list[str]:
    local = f"{name}{LOCAL_SUFFIX}"
    # {shard}/{replica} are server macros (the Altinity operator defines them); the path names the
    # table so a replica of every shard finds its peers in Keeper.
    args = [f"'/clickhouse/tables/{{shard}}/{db}/{local}'", "'{replica}'"]
    if engine.group("args"):
        args.append(engine.group("args"))
    head = statement[:engine.start()].replace(f"{db}.{name}", f"{db}.{local} ON CLUSTER {cluster}", 1)
    local_ddl = f"{head}ENGINE = Replicated{engine.group('engine')}({', '.join(args)}){statement[engine.end():]}"
    key = SHARDING_KEYS.get(name, "rand()")
    distributed = (f"CREATE TABLE IF NOT EXISTS {db}.{name} ON CLUSTER {cluster} AS {db}.{local} "
                   f"ENGINE = Distributed('{cluster}', '{db}', '{local}', {key})")
    return [local_ddl, distributed]


def _localise(sql: str, db: str, replicated: set[str]) -> str:
    return re.sub(rf"\b{db}\.(\w+)\b",
                  lambda m: f"{db}.{m[1]}{LOCAL_SUFFIX}" if m[1] in replicated else m[0], sql)
