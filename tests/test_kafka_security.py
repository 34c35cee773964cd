"""Kafka authentication settings reach both clients the same way (no SASL broker here: config only)."""
from __future__ import annotations

import faust
from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_security import confluent_config, faust_credentials


def test_plaintext_by_default():
    settings = Settings()
    assert confluent_config(settings) == {"security.protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None


def test_sasl_ssl_configures_both_clients_alike(monkeypatch):
    monkeypatch.setenv("CDRFLOW_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CDRFLOW_KAFKA_USERNAME", "cdrflow")
    monkeypatch.setenv("CDRFLOW_KAFKA_PASSWORD", "s3cret")
    settings = Settings()
    assert "s3cret" not in repr(settings)
    assert confluent_config(settings) == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                                          "sasl.username": "cdrflow", "sasl.password": "s3cret"}
    credentials = faust_credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value, credentials.password) == (
        "SASL_SSL", "SCRAM-SHA-512", "s3cret")
