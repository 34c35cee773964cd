"""Every ClickHouse access goes through a clickhouse-connect Client made here."""
from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from cdrflow.config import Settings


def connect(settings: Settings) -> Client:
    """chdb:///path opens the embedded engine (one process per path); http(s):// a real server."""
    # Credentials come apart from the URL so a Kubernetes Secret can carry them alone.
    password = settings.clickhouse_password.get_secret_value() if settings.clickhouse_password else ""
    return clickhouse_connect.get_client(dsn=settings.clickhouse_dsn, username=settings.clickhouse_user,
                                         password=password)
