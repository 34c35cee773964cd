"""Every ClickHouse access goes through a clickhouse-connect Client made here."""
from __future__ import annotations

import os

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from cdrflow.infra.config import Settings
from cdrflow.infra.runtime import QueryError, read_state, worker_request


# chdb's own jemalloc (read from JE_MALLOC_CONF when chdb loads, at the first embedded connect):
# freed pages go back after 1 s rather than ClickHouse's 5 s, which at a take a second kept several
# takes' insert and merge memory resident (jemalloc resident ~940 MB against ~115 MB allocated in
# the bench's detection stage); its heap profiler, on by default in chdb, samples for nobody here.
CHDB_MALLOC_CONF = "dirty_decay_ms:1000,prof_active:false"


def connect(settings: Settings) -> Client:
    """chdb:///path opens the embedded engine (one process per path); http(s):// a real server."""
    if settings.embedded_clickhouse:
        os.environ.setdefault("JE_MALLOC_CONF", CHDB_MALLOC_CONF)     # an operator's own setting wins
    # Credentials come apart from the URL so a Kubernetes Secret can carry them alone.
    password = settings.clickhouse_password.get_secret_value() if settings.clickhouse_password else ""
    return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn, username=settings.clickhouse_user,
                                         password=password)


def run_query(settings: Settings, sql: str, parameters: dict | None = None) -> tuple[list[str], list[list]]:
    """Through the worker when it owns the embedded engine; otherwise with a client of our own."""
    if settings.embedded_clickhouse and read_state(settings, "worker"):
        answer = worker_request(settings, "/query", {"sql": sql, "parameters": parameters})
        return answer["columns"], answer["rows"]
    try:
        result = connect(settings).query(sql, parameters=parameters)
    except Exception as exc:
        raise QueryError(str(exc)) from None
    return list(result.column_names), [list(r) for r in result.result_rows]
