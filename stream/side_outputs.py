"""The ingest chain's side outputs (dead letters, partials with watermark ticks, disconnected-number
hits) through a confluent-kafka producer the worker owns.

A take's records are produced at once (librdkafka queues each in C) and their deliveries awaited
on one thread off the event loop: the busy loop pays one round trip per take, not one per record
as with Faust's topic.send (docs/benchmarks.md, "issue 19 part 3").

send() returns once the broker acknowledged every record it was given and raises DeliveryFailed
if any was refused or not acknowledged within the delivery timeout: the chain acknowledges a take
only after its side outputs are delivered. Records are produced in the order given, sends in the
order they were called (one thread), and the idempotent producer keeps that order per partition
through retries: a partial key's messages and each partition's ticks arrive in order
(stream/detector_agent.py). Keys are partitioned by murmur2, as Faust's aiokafka producer does, so
a key lands on the partition the detector's table expects whichever client sent it.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import Producer

from cdrflow.infra.config import Settings
from cdrflow.producers.publisher import DeliveryFailed, idempotent_producer, produce

from cdrflow.stream.ingest import Record

__all__ = ["DeliveryFailed", "SideOutputs"]
DELIVERY_TIMEOUT_S = 300.0  # librdkafka's default; past it a record is reported failed


class _Deliveries:
    """One send's outstanding deliveries, counted down by the producer's delivery reports."""

    def __init__(self, count: int):
        self.pending = count
        self.errors: list[str] = []

    def __call__(self, err, msg) -> None:
        self.pending -= 1
        if err is not None:
            self.errors.append(f"{msg.topic()}[{msg.partition()}]: {err}")


class SideOutputs:
    """await send(topic, records): produced at once, delivered before it returns."""

    def __init__(self, bootstrap: str, settings: Settings, delivery_timeout_s: float = DELIVERY_TIMEOUT_S):
        self.bootstrap, self.settings = bootstrap, settings
        self.tuning = {
            "partitioner": "murmur2_random",     # aiokafka's and Java's: keyed by murmur2, unkeyed anywhere
            "message.timeout.ms": int(delivery_timeout_s * 1000),
        }
        self._producer: Producer | None = None       # opened on the first send, in the worker process
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="side-outputs")

    async def send(self, topic: str, records: list[Record]) -> None:
        if records:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._deliver, topic, records)

    def _deliver(self, topic: str, records: list[Record]) -> None:
        if self._producer is None:
            self._producer = idempotent_producer(self.bootstrap, self.settings, **self.tuning)
        producer, deliveries = self._producer, _Deliveries(len(records))
        for key, value, partition in records:
            produce(producer, topic, value, key, partition, on_delivery=deliveries)
        while deliveries.pending:       # each record is reported within the delivery timeout
            producer.poll(0.1)
        if deliveries.errors:
            raise DeliveryFailed(f"{len(deliveries.errors)} of {len(records)} record(s) not delivered, "
                                 f"first: {deliveries.errors[0]}")
