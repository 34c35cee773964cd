"""Kafka authentication from Settings, for both clients: confluent-kafka (producers) and aiokafka under
Faust (workers). One place, so a producer and a worker never disagree on how to reach the cluster."""
from __future__ import annotations

from typing import Any

from cdrflow.infra.config import Settings


def confluent_config(settings: Settings) -> dict:
    protocol = settings.kafka_security_protocol
    config: dict = {"security.protocol": protocol}
    if protocol.startswith("SASL"):
        config |= {"sasl.mechanism": settings.kafka_sasl_mechanism, "sasl.username": settings.kafka_username,
                   "sasl.password": _password(settings)}
    if protocol.endswith("SSL") and settings.kafka_ssl_ca_file:
        config["ssl.ca.location"] = str(settings.kafka_ssl_ca_file)
    return config


def faust_credentials(settings: Settings) -> Any:
    """faust.SASLCredentials / SSLCredentials, or None; Faust is imported here so producers never load it."""
    import faust
    from aiokafka.helpers import create_ssl_context

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = create_ssl_context(cafile=settings.kafka_ssl_ca_file) if protocol.endswith("SSL") else None
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(username=settings.kafka_username, password=_password(settings),
                                     mechanism=settings.kafka_sasl_mechanism, ssl_context=context)
    return faust.SSLCredentials(context)


def _password(settings: Settings) -> str | None:
    return settings.kafka_password.get_secret_value() if settings.kafka_password else None
