"""`cdrflow notify`: incident and alarm events → webhook and email, each delivered once per version.

A process of its own, not an agent of the worker: Faust commits one consumer group's offsets for
the whole app and pauses every topic when one agent's buffer is full, so a webhook down for an
hour would hold back CDR ingest; and the worker's chdb belongs to that process only. Here each
channel is a thread with its own Kafka position (group `cdrflow-notify-<channel>`), so a down
mail server delays email only.

Delivery order per channel: read an event → skip it if the ledger (notify_ledger.py) says it was
delivered → send, retrying with backoff while the endpoint is down → record it → commit the
offset. A stop or crash before the commit reads the event again; the ledger keeps it from going
out twice. Partitions are assigned, not joined as a group (a join on Tansu takes ~25 s), so one
notifier runs per deployment.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_NOT_AVAILABLE, Consumer, Producer, TopicPartition

from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import ensure_topics
from cdrflow.infra.kafka_security import confluent_config
from cdrflow.schemas.envelope import DeadLetter, encode_dead_letter, truncate_raw

from cdrflow.stream.notifications import NotAnEvent, Notification, notification_of
from cdrflow.stream.notify_channels import Email, RateLimit, Undeliverable, Webhook
from cdrflow.stream.notify_ledger import DeliveredLedger

log = logging.getLogger("cdrflow.notify")
GROUP_PREFIX = "cdrflow-notify-"
RETRY_FIRST_S = 1.0


class Channel(Protocol):
    name: str
    statuses: set[str]
    limit: RateLimit

    def send(self, n: Notification) -> None: ...


def channels_of(settings: Settings) -> list[Channel]:
    made = {"webhook": Webhook, "email": Email}
    return [made[name](settings.notify) for name in settings.notify.channels]


def event_topics(settings: Settings) -> list[str]:
    return [settings.topic_incidents, settings.topic_alarms]


class ChannelLoop:
    """One channel's read → deliver → record → commit loop; `run` returns when `stop` is set."""

    def __init__(self, settings: Settings, bootstrap: str, channel: Channel, stop: threading.Event):
        self.settings, self.bootstrap, self.channel, self.stop = settings, bootstrap, channel, stop
        self.fresh: set[tuple[str, int]] = set()     # partitions this channel had no position in

    def _consumer(self) -> Consumer:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": GROUP_PREFIX + self.channel.name,
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             **confluent_config(self.settings)})
        wanted = [TopicPartition(topic, p) for topic in event_topics(self.settings)
                  for p in consumer.list_topics(topic, timeout=15).topics[topic].partitions]
        committed = consumer.committed(wanted, timeout=15)
        self.fresh = {(tp.topic, tp.partition) for tp in committed if tp.offset < 0}
        consumer.assign([tp if tp.offset >= 0 else TopicPartition(tp.topic, tp.partition, OFFSET_BEGINNING)
                         for tp in committed])
        return consumer

    def run(self) -> None:
        ledger = DeliveredLedger(self.settings.resolved_data_dir / "notify", self.channel.name)
        consumer = self._consumer()
        dead_letters = Producer({"bootstrap.servers": self.bootstrap, **confluent_config(self.settings)})
        try:
            while not self.stop.is_set():
                message = consumer.poll(0.5)
                if message is None or message.error():
                    continue
                if not self._handle(message, ledger, dead_letters):
                    return          # stopped while retrying: not committed, read again on the next start
                consumer.commit(message=message, asynchronous=False)
        finally:
            dead_letters.flush(10)
            consumer.close()
            ledger.close()

    def _handle(self, message, ledger: DeliveredLedger, dead_letters: Producer) -> bool:
        """Delivers what the message asks for; False if stopped before it was done."""
        position = f"{message.topic()}/{message.partition()}@{message.offset()}"
        try:
            n = notification_of(message.value())
        except NotAnEvent as exc:
            self._dead_letter(dead_letters, str(exc), position, message.value())
            return True
        if n.status not in self.channel.statuses or ledger.delivered(n.key):
            return True
        kind, created_ms = message.timestamp()
        if (message.topic(), message.partition()) in self.fresh and kind != TIMESTAMP_NOT_AVAILABLE:
            age_s = time.time() - created_ms / 1000
            if age_s > self.settings.notify.first_start_lookback_s:
                log.info("%s: first start, skipping %s %s from %.0f s ago", self.channel.name, n.source, n.key, age_s)
                return True
        attempt = 0
        while not self.stop.is_set():
            pause = self.channel.limit.wait_s()
            if pause:
                self.stop.wait(pause)
                continue
            try:
                self.channel.send(n)
            except Undeliverable as exc:
                self._dead_letter(dead_letters, f"{self.channel.name}: {exc}", position, message.value())
                return True
            except Exception as exc:  # noqa: BLE001 - a down endpoint: wait and try again, never drop
                attempt += 1
                backoff = min(self.settings.notify.retry_max_s, RETRY_FIRST_S * 2 ** (attempt - 1))
                log.warning("%s of %s failed (attempt %d, next in %.0f s): %s", self.channel.name, n.key, attempt,
                            backoff, exc)
                self.stop.wait(backoff)
                continue
            ledger.record(n.key)
            log.info("%s: sent %s %s (%s)", self.channel.name, n.source, n.key, n.status)
            return True
        return False

    def _dead_letter(self, producer: Producer, reason: str, position: str, raw: bytes) -> None:
        log.warning("dead letter from %s: %s", position, reason)
        letter = DeadLetter(stage="notify", reason=reason, source=self.channel.name, position=position,
                            raw=truncate_raw(raw))
        producer.produce(self.settings.topic_dead_letter, encode_dead_letter(letter))
        producer.flush(10)


def run_notifier(settings: Settings, bootstrap: str, stop: threading.Event) -> None:
    """Runs every configured channel until `stop` is set."""
    channels = channels_of(settings)
    if not channels:
        raise ValueError("nothing to notify: set CDRFLOW_NOTIFY__WEBHOOK_URL or CDRFLOW_NOTIFY__SMTP_HOST and "
                         "CDRFLOW_NOTIFY__EMAIL_TO")
    ensure_topics(bootstrap, {topic: 1 for topic in event_topics(settings)} | {settings.topic_dead_letter: 1})
    failures: list[BaseException] = []

    def run(loop: ChannelLoop) -> None:
        try:
            loop.run()
        except BaseException as exc:  # one channel failing stops all: the supervisor restarts the process
            failures.append(exc)
            stop.set()

    threads = [threading.Thread(target=run, args=(ChannelLoop(settings, bootstrap, channel, stop),),
                                name=f"notify-{channel.name}") for channel in channels]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
