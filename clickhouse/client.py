"""Every ClickHouse access goes through a clickhouse-connect Client made here."""
from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from cdrflow.infra.config import Settings
from cdrflow.infra.runtime import QueryError, read_state, worker_request


def connect(settings: Settings) -> Client:
    """chdb:///path opens the embedded engine (one process per path); http(s):// a real server."""
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
