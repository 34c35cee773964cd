"""The notifier (`cdrflow notify`) against a real Tansu broker, a real HTTP server and a real SMTP
server (STARTTLS + AUTH) on loopback: each incident and alarm version arrives exactly once per
channel, a down webhook delays its notifications but loses none across a notifier kill, and a
restart that reads the topic again sends nothing twice."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import orjson
import pytest
from cdrflow.infra.local_broker import free_port
from cdrflow.stream.notifications import NotAnEvent, notification_of
from cdrflow.stream.notify_channels import RateLimit
from cdrflow.stream.notifier import GROUP_PREFIX
from confluent_kafka import Consumer, Producer, TopicPartition

from support.kafka import read_all
from support.receivers import SmtpReceiver, WebhookReceiver, self_signed

NOW_MS = int(time.time() * 1000)
INCIDENT = {"id": "5536cfcf-0000-5000-8000-000000000001", "interconnect": "att", "direction": "out",
            "kinds": ["asr_drop"], "severity": "major", "start_ms": NOW_MS - 180_000, "end_ms": None,
            "lost_calls": 12.0, "status": "open"}


def incident_event(version: int, event: str) -> bytes:
    incident = {**INCIDENT, "version": version, "updated_ms": NOW_MS,
                **({"status": "resolved", "end_ms": NOW_MS} if event == "resolve" else {})}
    return orjson.dumps({"event": event, "incident": incident})


ALARM = orjson.dumps({"id": "a1a1a1a1-0000-5000-8000-000000000002", "version": 1, "status": "open",
                      "kind": "utilisation", "subject": "TG-ATT-01", "since_ms": NOW_MS - 300_000,
                      "updated_ms": NOW_MS, "detail": {"utilisation": 0.97, "channels": 120}})


def test_notifications_of_incident_and_alarm_events():
    n = notification_of(incident_event(2, "update"))
    assert (n.source, n.key, n.status) == ("incident", f"{INCIDENT['id']}:2", "update")
    assert "att/out" in n.title and "cdrflow incidents ack 5536cfcf" in n.text()
    a = notification_of(ALARM)
    assert (a.source, a.key, a.status, a.body()["alarm"]["subject"]) == \
        ("alarm", "a1a1a1a1-0000-5000-8000-000000000002:1", "open", "TG-ATT-01")
    for bad in (b"{not json", b"[1]", b'{"event": "open", "incident": {}}', b'{"id": "x", "status": "gone"}'):
        with pytest.raises(NotAnEvent):
            notification_of(bad)


def test_rate_limit_delays_beyond_the_rate():
    now = [0.0]
    limit = RateLimit(per_minute=6, clock=lambda: now[0])      # one per 10 s, bursts of 6
    assert [limit.wait_s() for _ in range(6)] == [0.0] * 6
    assert limit.wait_s() == pytest.approx(10.0)
    now[0] += 10
    assert limit.wait_s() == 0.0 and limit.wait_s() > 0


WEBHOOK_PORT, SMTP_PORT = free_port(), free_port()


@pytest.fixture
def notify_env(tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    env = {"CDRFLOW_NOTIFY__WEBHOOK_URL": f"http://127.0.0.1:{WEBHOOK_PORT}/hook",
           "CDRFLOW_NOTIFY__WEBHOOK_RATE_PER_MINUTE": "600",
           "CDRFLOW_NOTIFY__SMTP_HOST": "127.0.0.1", "CDRFLOW_NOTIFY__SMTP_PORT": str(SMTP_PORT),
           "CDRFLOW_NOTIFY__SMTP_CA_FILE": str(cert), "CDRFLOW_NOTIFY__SMTP_USERNAME": "noc",
           "CDRFLOW_NOTIFY__SMTP_PASSWORD": "s3cret", "CDRFLOW_NOTIFY__EMAIL_TO": '["noc@example.net"]',
           "CDRFLOW_NOTIFY__EMAIL_STATUSES": '["open", "update", "resolved"]',
           "CDRFLOW_NOTIFY__EMAIL_RATE_PER_MINUTE": "600", "CDRFLOW_NOTIFY__RETRY_MAX_S": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    smtp = SmtpReceiver(SMTP_PORT, cert, key, "noc", "s3cret")
    yield smtp
    smtp.close()


class Notifier:
    def __init__(self, log):
        self.log, self.process = log, None

    def start(self) -> "Notifier":
        self.process = subprocess.Popen([sys.executable, "-m", "cdrflow", "notify"], env=dict(os.environ),
                                        stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            assert self.process.wait(30) in (0, -signal.SIGKILL) or sig != signal.SIGTERM, self.log.read_text()


def wait_for(done, what: str, log, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out: {what}\n{log.read_text()[-3000:]}")


def publish(bootstrap: str, topic: str, *values: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(topic, value)
    assert producer.flush(15) == 0


def rewind(bootstrap: str, channel: str, topics: list[str]) -> None:
    """Moves a channel's committed position back to the start, as a lost commit would leave it."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP_PREFIX + channel,
                         "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition(t, 0, 0) for t in topics], asynchronous=False)
    consumer.close()


def test_each_version_arrives_once_per_channel_and_a_down_webhook_loses_nothing(settings, notify_env, tmp_path):
    smtp, log = notify_env, tmp_path / "notify.log"
    bootstrap, topics = settings.kafka_bootstrap, [settings.topic_incidents, settings.topic_alarms]
    publish(bootstrap, settings.topic_incidents, incident_event(1, "open"), incident_event(2, "update"),
            incident_event(2, "update"),      # a redelivered version: the same key
            b"not an event")
    publish(bootstrap, settings.topic_alarms, ALARM)
    first = {f"{INCIDENT['id']}:1", f"{INCIDENT['id']}:2", "a1a1a1a1-0000-5000-8000-000000000002:1"}

    # the webhook is down (nothing listens): email goes on, the webhook retries
    notifier = Notifier(log).start()
    wait_for(lambda: len(smtp.mails) >= 3, "three emails", log)
    wait_for(lambda: log.read_text().count("webhook of") >= 2, "webhook retries", log)
    notifier.stop(signal.SIGKILL)     # killed while the webhook's notifications are unsent
    assert sorted(smtp.message_ids()) == sorted(first)

    webhook = WebhookReceiver(WEBHOOK_PORT)
    try:
        publish(bootstrap, settings.topic_incidents, incident_event(3, "resolve"))
        notifier = Notifier(log).start()
        everything = first | {f"{INCIDENT['id']}:3"}
        wait_for(lambda: len(webhook.calls) >= 4 and len(smtp.mails) >= 4, "every version on both channels", log)
        notifier.stop()

        # positions lost (a crash between delivery and commit): the ledger sends nothing again
        for channel in ("webhook", "email"):
            rewind(bootstrap, channel, topics)
        notifier = Notifier(log).start()
        wait_for(lambda: log.read_text().count("dead letter from") >= 4, "the topics read again", log)
        time.sleep(1)
        notifier.stop()
        assert sorted(webhook.keys()) == sorted(everything), webhook.keys()
        assert sorted(smtp.message_ids()) == sorted(everything), smtp.message_ids()
        headers, body = next(c for c in webhook.calls if c[0]["Idempotency-Key"].endswith(":3"))
        assert (body["source"], body["status"], body["incident"]["interconnect"]) == ("incident", "resolved", "att")
        assert headers["Content-Type"] == "application/json"
        assert smtp.refused_logins == 0
    finally:
        webhook.close()
    # the bad message is a dead letter with its reason, once per channel and reading
    letters = [json.loads(v) for v in read_all(bootstrap, settings.topic_dead_letter, expect=4)]
    assert {(d["stage"], d["reason"].split(":")[0]) for d in letters} == {("notify", "not JSON")}
    assert len(letters) == 4


def test_a_first_start_skips_history_older_than_the_lookback(settings, tmp_path, monkeypatch):
    import threading

    from cdrflow.infra.config import Settings
    from cdrflow.stream.notifier import run_notifier

    port = free_port()
    monkeypatch.setenv("CDRFLOW_NOTIFY__WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")
    monkeypatch.setenv("CDRFLOW_NOTIFY__FIRST_START_LOOKBACK_S", "3600")
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.topic_incidents, incident_event(1, "open"), timestamp=NOW_MS - 2 * 3_600_000)
    producer.produce(settings.topic_incidents, incident_event(2, "update"))
    assert producer.flush(15) == 0
    webhook, stop = WebhookReceiver(port), threading.Event()
    notifier = threading.Thread(target=run_notifier, args=(Settings(), settings.kafka_bootstrap, stop))
    notifier.start()
    try:
        deadline = time.monotonic() + 30
        while not webhook.calls and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
    finally:
        stop.set()
        notifier.join(30)
        webhook.close()
    assert webhook.keys() == [f"{INCIDENT['id']}:2"]      # the two-hour-old opening is not paged now
