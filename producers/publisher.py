"""Publishing to Kafka with confluent-kafka: idempotent, batched envelopes, explicit flush."""
from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException, Producer

from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_security import confluent_config
from cdrflow.infra.runtime import record_published
from cdrflow.schemas.envelope import DeadLetter, encode_batch, encode_dead_letter


class DeliveryFailed(RuntimeError):
    pass


def idempotent_producer(bootstrap: str, settings: Settings, **tuning: Any) -> Producer:
    """A confluent-kafka producer whose retries never duplicate or reorder (idempotent, acks from
    all replicas), with the site's credentials; tuning adds librdkafka settings."""
    return Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                     "compression.type": "lz4", **tuning, **confluent_config(settings)})


def produce(producer: Producer, topic: str, value: bytes, key: bytes | None = None,
            partition: int | None = None, on_delivery: Any = None) -> None:
    """producer.produce(), waiting while librdkafka's local queue is full (deliveries drain it);
    partition None: the partitioner chooses."""
    while True:
        try:
            if partition is None:
                producer.produce(topic, value, key, on_delivery=on_delivery)
            else:
                producer.produce(topic, value, key, partition, on_delivery=on_delivery)
            return
        except BufferError:
            producer.poll(0.05)


class Publisher:
    """Sends CDR batches and dead letters; `flush()` returns only when the broker acknowledged
    everything sent so far, and raises if anything was refused — callers checkpoint after it.

    It also keeps where each acknowledged message landed: `take_marks()` gives the CDR topic's
    partition → last offset since the previous call (what a file source waits to see committed
    by the worker group, producers/stored_checkpoint.py), and `ends` the offset after the last
    message per topic and partition, which `cdrflow up` reads to show the lag: Tansu's high
    watermark is its last record batch's base offset + 1, so the broker cannot tell it."""

    def __init__(self, bootstrap: str, settings: Settings):
        self.settings = settings
        self.batch_max = settings.batch_max_cdrs
        self._producer = idempotent_producer(bootstrap, settings, **{
            "linger.ms": settings.producer_linger_ms,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 512 * 1024,
        })
        self._errors: list[str] = []
        self._marks: dict[int, int] = {}
        self.ends: dict[str, dict[int, int]] = {}
        self._reported_ends: dict[str, dict[int, int]] = {}
        self.sent_cdrs = 0
        self.sent_dead_letters = 0

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")
            return
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        ends = self.ends.setdefault(topic, {})
        ends[partition] = max(ends.get(partition, 0), offset + 1)
        if topic == self.settings.topic_cdr_batches:
            self._marks[partition] = max(self._marks.get(partition, -1), offset)

    def take_marks(self) -> dict[int, int]:
        """CDR topic partition → highest offset acknowledged since the previous call (after a flush)."""
        marks, self._marks = self._marks, {}
        return marks

    def _produce(self, topic: str, value: bytes) -> None:
        produce(self._producer, topic, value, on_delivery=self._on_delivery)
        self._producer.poll(0)

    def send_cdrs(self, source: str, cdrs: list[dict[str, Any]]) -> None:
        for i in range(0, len(cdrs), self.batch_max):
            self._produce(self.settings.topic_cdr_batches, encode_batch(source, cdrs[i:i + self.batch_max]))
        self.sent_cdrs += len(cdrs)

    def send_dead_letter(self, letter: DeadLetter) -> None:
        self._produce(self.settings.topic_dead_letter, encode_dead_letter(letter))
        self.sent_dead_letters += 1

    def flush(self, timeout_s: float = 60.0) -> None:
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise DeliveryFailed(f"{remaining} message(s) not acknowledged within {timeout_s}s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryFailed(f"{len(errors)} message(s) refused, first: {errors[0]}")
        if self.settings.embedded_broker and self.ends != self._reported_ends:
            record_published(self.settings, self.ends)
            self._reported_ends = {topic: dict(ends) for topic, ends in self.ends.items()}

    def close(self) -> None:
        try:
            self.flush()
        except (DeliveryFailed, KafkaException):
            pass
        if self.settings.embedded_broker:
            record_published(self.settings, self.ends)
