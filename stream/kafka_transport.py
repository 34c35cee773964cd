"""Faust's aiokafka transport with a short fetch wait.

faust-streaming hard-codes the consumer's fetch_max_wait_ms at 1500. Apache Kafka answers a
waiting fetch as soon as a record arrives, so the wait costs nothing there; Tansu, the embedded
broker, answers at the end of the wait (measured: produce → consume p50 410 ms at 1500, 49 ms at
100), and the worker read each take ~1 s late. The consumer keeps the argument as
`_fetch_max_wait_ms` and hands it to its fetcher when it starts, so it is set in between.
"""
from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as driver

FETCH_MAX_WAIT_MS = 100     # an idle worker sends ten small fetches a second


class _ConsumerThread(driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS     # noqa: SLF001 - see the module's docstring
        return consumer


class _Consumer(driver.Consumer):
    def _new_consumer_thread(self) -> driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = _Consumer
