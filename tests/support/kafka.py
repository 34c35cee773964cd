"""Reading topics of the real broker back."""
from __future__ import annotations

import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def read_topic(bootstrap: str, topic: str, expect: int, timeout_s: float = 30) -> list[bytes]:
    """Reads a topic from the beginning until `expect` messages arrived (or the timeout)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(values) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                values.append(msg.value())
        # a short extra poll shows there is nothing beyond what was expected
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            msg = consumer.poll(0.3)
            if msg is not None and not msg.error():
                values.append(msg.value())
    finally:
        consumer.close()
    return values


def read_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 15, tail_s: float = 1.0) -> list[bytes]:
    """The topic's messages: read from the beginning of every partition until `expect` arrived
    (bounded by timeout_s), then `tail_s` longer to show nothing follows them.

    Partitions are assigned rather than joined as a consumer group — conftest.read_topic's group
    join takes Tansu ~25 s — and the high watermark cannot mark the end, because Tansu reports it
    as the last record batch's base offset + 1. Order holds within a partition only.
    """
    return [value for _, _, value in read_records(bootstrap, topic, expect, timeout_s, tail_s)]


def read_records(bootstrap: str, topic: str, expect: int, timeout_s: float = 15,
                 tail_s: float = 1.0) -> list[tuple[int, bytes | None, bytes]]:
    """read_all's messages as (partition, key, value)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-file-source",
                         "enable.auto.commit": False})
    records: list[tuple[int, bytes | None, bytes]] = []
    try:
        partitions = consumer.list_topics(topic, timeout=timeout_s).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        deadline = time.monotonic() + timeout_s
        while len(records) < expect and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                records.append((msg.partition(), msg.key(), msg.value()))
        deadline = time.monotonic() + tail_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                records.append((msg.partition(), msg.key(), msg.value()))
    finally:
        consumer.close()
    return records
