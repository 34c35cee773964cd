"""Topic set-up through the Kafka Admin API (works the same on Tansu and Apache Kafka)."""
from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from .config import Settings


def ensure_topics(bootstrap: str, topics: dict[str, int], timeout_s: float = 15.0) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [NewTopic(name, num_partitions=parts, replication_factor=1)
              for name, parts in topics.items() if name not in existing]
    for name, future in (admin.create_topics(wanted, operation_timeout=timeout_s) if wanted else {}).items():
        try:
            future.result(timeout_s)
        except Exception as exc:  # a concurrent creator is fine; anything else is not
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def pipeline_topics(settings: Settings) -> dict[str, int]:
    return {settings.topic_cdr_batches: settings.partitions, settings.topic_dead_letter: 1}
