"""Hits to disconnected numbers → ops topic: the rate limit and carried counts as pure logic, then
the whole path on a real broker and worker (inventory imported through the worker, CDRs published)."""
from __future__ import annotations

import time

import orjson
import pytest
from cdrflow.numbering.hits import DisconnectedHits, flush_every_s

DEAD, LIVE = "+12125550100", "+12125550101"


def hit(number: str, start_ms: int, answered: bool = False, kind: str = "stop") -> dict:
    return {"called_e164": number, "start_ms": start_ms, "answer_ms": start_ms + 3000 if answered else None,
            "record_kind": kind}


def test_first_hit_goes_out_at_once_and_only_disconnected_calls_count():
    hits = DisconnectedHits(interval_s=60, numbers=frozenset({DEAD}))
    events = hits.observe([hit(DEAD, 1000, answered=True), hit(DEAD, 500), hit(LIVE, 700),
                           hit(DEAD, 900, kind="start"), hit(None, 800)], now=100.0)
    assert events == [{"number": DEAD, "calls": 2, "answered": 1, "first_call_ms": 500, "last_call_ms": 1000,
                       "previous_event_ms": None, "sent_ms": 100_000}]


def test_rate_limit_holds_calls_and_carries_the_count():
    hits = DisconnectedHits(interval_s=60, numbers=frozenset({DEAD}))
    assert len(hits.observe([hit(DEAD, 1)], now=0.0)) == 1
    # within the interval: held, not lost
    assert hits.observe([hit(DEAD, 2), hit(DEAD, 3, answered=True)], now=10.0) == []
    assert hits.observe([hit(DEAD, 4)], now=59.9) == []
    assert hits.flush(now=30.0) == []
    # the next call after the interval brings every held call with it
    [event] = hits.observe([hit(DEAD, 5)], now=61.0)
    assert (event["calls"], event["answered"], event["first_call_ms"], event["last_call_ms"],
            event["previous_event_ms"]) == (4, 1, 2, 5, 0)
    # held calls with no later traffic go out with the flush once the interval has passed
    assert hits.observe([hit(DEAD, 6)], now=70.0) == []
    assert hits.flush(now=120.0) == []
    [flushed] = hits.flush(now=121.0)
    assert (flushed["calls"], flushed["first_call_ms"], flushed["previous_event_ms"]) == (1, 6, 61_000)
    assert hits.held == {}


def test_numbers_are_limited_independently_and_quiet_ones_forgotten():
    other = "+12125550102"
    hits = DisconnectedHits(interval_s=60, numbers=frozenset({DEAD, other}))
    assert [e["number"] for e in hits.observe([hit(DEAD, 1)], now=0.0)] == [DEAD]
    assert [e["number"] for e in hits.observe([hit(other, 2), hit(DEAD, 3)], now=5.0)] == [other]
    assert [e["number"] for e in hits.flush(now=61.0)] == [DEAD]
    assert hits.flush(now=200.0) == [] and hits.last_event == {}   # memory stays bounded by active numbers
    # a number that stopped being disconnected is no longer counted
    hits.numbers = frozenset({other})
    assert hits.observe([hit(DEAD, 9)], now=300.0) == []


def test_total_calls_survive_any_interleaving():
    hits = DisconnectedHits(interval_s=7, numbers=frozenset({DEAD}))
    sent = []
    for second in range(100):
        sent += hits.observe([hit(DEAD, second)] * (second % 3), now=float(second))
        if second % 4 == 0:
            sent += hits.flush(now=float(second))
    sent += hits.flush(now=1000.0)
    assert sum(e["calls"] for e in sent) == sum(s % 3 for s in range(100))
    times = [e["sent_ms"] for e in sent]
    assert all(b - a >= 7000 for a, b in zip(times, times[1:]))


def test_flush_period():
    assert (flush_every_s(3600), flush_every_s(60), flush_every_s(2)) == (30.0, 6.0, 1.0)


@pytest.mark.parametrize("settings", [{"CDRFLOW_PARTITIONS": "1", "CDRFLOW_DISCONNECTED_HIT_INTERVAL_S": "3"}],
                         indirect=True)
def test_worker_publishes_rate_limited_hits_of_disconnected_numbers(settings, worker, tmp_path):
    from cdrflow.clickhouse.client import run_query
    from cdrflow.numbering.inventory import import_inventory
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.simulator_source import publish_stream

    from support.kafka import read_topic
    from support.numbering import call, write_csv

    worker.start()
    inventory = write_csv(tmp_path / "inv.csv", [f"{DEAD}..{LIVE},in_service,acme,,2025-01-01",
                                                 f"{DEAD},disconnected,acme,,2026-01-01"])
    import_inventory(lambda sql, params: run_query(settings, sql, params), settings, inventory)
    t0 = int(time.time() * 1000)

    def publish(first: int, dead_calls: int) -> None:
        cdrs = [call(first + i, DEAD, f"+1646555{i:04d}", T(t0 + i * 1000), i % 2 == 0) for i in range(dead_calls)]
        cdrs += [call(first + 100 + i, LIVE, "+16465550001", T(t0), True) for i in range(4)]   # in service
        publisher = Publisher(settings.kafka_bootstrap, settings)
        publish_stream(cdrs, publisher, batch=2)        # several takes: the limit holds the later ones
        publisher.flush()
        publisher.close()

    def events(stored: int, expect: int) -> list[dict]:
        worker.wait_for(lambda s: s["cdrs_stored"] >= stored, timeout_s=60)
        time.sleep(3 + 1 + 1)       # interval + flush period + slack: held calls are out by now
        return [orjson.loads(v) for v in read_topic(settings.kafka_bootstrap, settings.topic_disconnected_hits,
                                                    expect=expect, timeout_s=60)]
    publish(0, 7)
    assert sum(e["calls"] for e in events(11, 1)) == 7
    publish(1000, 5)
    events = events(20, 2)
    assert {e["number"] for e in events} == {DEAD}
    assert (sum(e["calls"] for e in events), sum(e["answered"] for e in events)) == (12, 4 + 3)
    sent = [e["sent_ms"] for e in events]
    assert len(events) >= 2 and all(b - a >= 3000 for a, b in zip(sent, sent[1:]))
    assert worker.stats()["cdrs_stored"] == 20


def T(ms: int):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def test_disconnected_set_follows_the_inventory(clickhouse, tmp_path):
    """Current status only; reloaded when an import changed the inventory, not on every check."""
    from cdrflow.numbering.hits import RELOAD_CHECK_S, InventoryWatch
    from cdrflow.numbering.inventory import import_inventory

    from support.numbering import write_csv

    settings, client = clickhouse

    def run(sql, params):
        return client.query(sql, parameters=params)

    import_inventory(run, settings, write_csv(tmp_path / "a.csv", [
        "+12125550100..+12125550103,in_service,acme,,2025-01-01",
        "+12125550100..+12125550101,disconnected,acme,,2025-06-01",
        "+12125550101,in_service,beta,,2025-09-01",                  # sold again
        "+12125550103,disconnected,acme,,2099-01-01"]))              # not yet
    hits, watch = DisconnectedHits(interval_s=60), InventoryWatch(settings)
    assert watch.refresh(client, hits, now=0.0) and hits.numbers == {DEAD}
    assert not watch.refresh(client, hits, now=RELOAD_CHECK_S / 2)     # not checked again yet
    assert not watch.refresh(client, hits, now=RELOAD_CHECK_S)         # checked: nothing changed
    import_inventory(run, settings, write_csv(tmp_path / "b.csv", ["+12125550102,disconnected,acme,,2025-10-01"]))
    assert watch.refresh(client, hits, now=2 * RELOAD_CHECK_S) and hits.numbers == {DEAD, "+12125550102"}


def test_failed_reload_keeps_the_previous_set():
    from cdrflow.infra.config import Settings
    from cdrflow.numbering.hits import InventoryWatch

    class Down:
        def query(self, *args, **kwargs):
            raise ConnectionError("clickhouse away")

    hits = DisconnectedHits(interval_s=60, numbers=frozenset({DEAD}))
    assert not InventoryWatch(Settings()).refresh(Down(), hits, now=0.0)
    assert hits.numbers == {DEAD}
