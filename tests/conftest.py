"""Fixtures on real components: a Tansu broker on a free loopback port, a Faust worker process
owning an embedded chdb in a temp dir, queried through the worker as users do."""
from __future__ import annotations

import pytest
from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import ensure_topics, pipeline_topics
from cdrflow.infra.local_broker import LocalBroker, free_port

from support.worker import WorkerProcess


@pytest.fixture
def broker():
    with LocalBroker() as local:
        yield local


@pytest.fixture
def settings(request, tmp_path, broker, monkeypatch) -> Settings:
    """Settings on the test's broker and data dir; a test overrides variables with
    @pytest.mark.parametrize("settings", [{"CDRFLOW_…": "…"}], indirect=True)."""
    env = {
        "CDRFLOW_DATA_DIR": str(tmp_path / "data"),
        "CDRFLOW_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CDRFLOW_WORKER_WEB_PORT": str(free_port()),
        "CDRFLOW_RETENTION_DAYS": "5000",   # the real samples are from 2017: keep them past the TTL
        "CDRFLOW_WORKER_WITHIN_S": "0.2",
        **getattr(request, "param", {}),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    ensure_topics(broker.bootstrap, pipeline_topics(settings))
    return settings


@pytest.fixture
def clickhouse(tmp_path, monkeypatch):
    """(settings, client): a migrated embedded ClickHouse in a temp dir, opened in this process
    (chdb allows one path per process at a time, so the client is closed after the test)."""
    from cdrflow.clickhouse.client import connect
    from cdrflow.clickhouse.migrate import migrate

    monkeypatch.setenv("CDRFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CDRFLOW_RETENTION_DAYS", "5000")
    settings = Settings()
    client = connect(settings)
    migrate(client, settings)
    yield settings, client
    client.close()


@pytest.fixture
def worker(settings, tmp_path):
    process = WorkerProcess(settings, tmp_path / "worker.log")
    yield process
    process.stop()


