"""Topic set-up through the Kafka Admin API (works the same on Tansu and Apache Kafka)."""
from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from cdrflow.infra.config import Settings

WORKER_GROUP = "cdrflow"    # the Faust app id, so the workers' consumer group


def ensure_topics(bootstrap: str, topics: dict[str, int], timeout_s: float = 15.0) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [NewTopic(name, num_partitions=parts, replication_factor=1)
              for name, parts in topics.items() if name not in existing]
    for future in (admin.create_topics(wanted, operation_timeout=timeout_s) if wanted else {}).values():
        try:
            future.result(timeout_s)
        except Exception as exc:  # a concurrent creator is fine; anything else is not
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def pipeline_topics(settings: Settings) -> dict[str, int]:
    # partials are keyed by interconnect and co-partitioned with the detector's table
    return {settings.topic_cdr_batches: settings.partitions, settings.topic_dead_letter: 1,
            settings.topic_partials: settings.partitions, settings.topic_incidents: 1,
            settings.topic_disconnected_hits: 1, settings.topic_alarms: 1}


def consumer_lag(bootstrap: str, group: str, topic: str, timeout_s: float = 10.0) -> int:
    """Messages of `topic` not yet committed by consumer group `group` (all partitions)."""
    from confluent_kafka import Consumer, TopicPartition

    # Reading committed offsets does not join the group, so this never triggers a rebalance.
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout_s)
        lag = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=timeout_s)
            # max(0, …): Tansu reports some committed offsets one past its high watermark
            lag += max(0, high - (tp.offset if tp.offset >= 0 else low))
        return lag
    finally:
        consumer.close()


class TopicProgress:
    """Per topic, messages published and messages the worker group committed (= stored, for the
    CDR topic). The local broker's high watermark undercounts (its last record batch's base
    offset + 1), so the ends its producers recorded (runtime.read_published) count as well."""

    def __init__(self, bootstrap: str, group: str = WORKER_GROUP):
        from confluent_kafka import Consumer

        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})

    def progress(self, topic: str, known_ends: dict[int, int], timeout_s: float = 2.0) -> tuple[int, int]:
        """(published, committed) messages of topic, summed over its partitions."""
        from confluent_kafka import TopicPartition

        partitions = self.consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        committed = self.consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout_s)
        published = done = 0
        for tp in committed:
            high = self.consumer.get_watermark_offsets(TopicPartition(topic, tp.partition), timeout=timeout_s)[1]
            end = max(high, known_ends.get(tp.partition, 0))
            published += end
            done += min(end, max(tp.offset, 0))
        return published, done

    def close(self) -> None:
        self.consumer.close()
