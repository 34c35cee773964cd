"""Publishing to Kafka with confluent-kafka: idempotent, batched envelopes, explicit flush."""
from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaException, Producer

from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_security import confluent_config
from cdrflow.schemas.envelope import DeadLetter, encode_batch, encode_dead_letter


class DeliveryFailed(RuntimeError):
    pass


class Publisher:
    """Sends CDR batches and dead letters; `flush()` returns only when the broker acknowledged
    everything sent so far, and raises if anything was refused — callers checkpoint after it."""

    def __init__(self, bootstrap: str, settings: Settings):
        self.settings = settings
        self.batch_max = settings.batch_max_cdrs
        self._producer = Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,          # retries never duplicate or reorder
            "acks": "all",
            "linger.ms": settings.producer_linger_ms,
            "compression.type": "lz4",
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 512 * 1024,
            **confluent_config(settings),
        })
        self._errors: list[str] = []
        self.sent_cdrs = 0
        self.sent_dead_letters = 0

    def _on_delivery(self, err, msg) -> None:
        if err is not None:
            self._errors.append(f"{msg.topic()}: {err}")

    def _produce(self, topic: str, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(topic, value=value, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain, then retry
                self._producer.poll(0.05)
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

    def close(self) -> None:
        try:
            self.flush()
        except (DeliveryFailed, KafkaException):
            pass
