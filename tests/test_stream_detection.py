"""The detector's chain (stream/detection.py) with fake ports: incidents stored before announced,
judgements published in order, a failed store still announced, baselines read once per slot.
The detector on Kafka is tested in tests/test_incidents.py."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from cdrflow.stream.detection import (SLOT_MS, AnnounceIncidents, Baselines, Judge, Publisher,
                                      StoreIncidents)
from cdrflow.stream.worker_stats import WorkerStats


def event(n: int) -> tuple[bytes, dict]:
    return b"att|out", {"status": "open", "incident": {"id": f"i{n}", "version": 1}}


def publisher_with(log: list, fail_store: bool = False, slow_first: bool = False):
    stats = WorkerStats()

    async def store(incidents):
        if slow_first and incidents[0]["id"] == "i1":
            await asyncio.sleep(0.02)
        if fail_store:
            raise ConnectionError("ClickHouse is down")
        log.append(("stored", [i["id"] for i in incidents]))

    async def send(key, value):
        log.append(("sent", orjson.loads(value)["incident"]["id"]))

    return Publisher(StoreIncidents(store), AnnounceIncidents(send, stats), stats), stats


def test_incidents_are_stored_before_announced_and_judgements_published_in_order():
    log: list = []

    async def main():
        publisher, stats = publisher_with(log, slow_first=True)
        publisher.publish([event(1), event(2)], 0, 60_000, {0: None, 1: None})
        publisher.publish([event(3)], 1, 70_000, {0: None, 1: None})
        await publisher.last
        return stats
    stats = asyncio.run(main())
    assert log == [("stored", ["i1", "i2"]), ("sent", "i1"), ("sent", "i2"), ("stored", ["i3"]), ("sent", "i3")]
    assert stats.incident_events == 3 and stats.watermark_ms == 60_000     # the oldest of the two partitions


def test_a_failed_store_still_announces_and_the_chain_goes_on():
    log: list = []

    async def main():
        publisher, stats = publisher_with(log, fail_store=True)
        publisher.publish([event(1)], 0, 60_000, {0: None})
        publisher.publish([], 0, 70_000, {0: None})
        await publisher.last
        return stats
    stats = asyncio.run(main())
    assert log == [("sent", "i1")] and stats.watermark_ms == 70_000


def test_baselines_are_read_once_per_slot_ahead_of_need_and_again_after_a_failure():
    reads: list[int] = []
    failures = [1]

    async def load(at_ms):
        reads.append(at_ms)
        if failures:
            failures.pop()
            raise ConnectionError("down")
        return {"att|out": {"asr": 0.5}}

    class NoKeys:
        def states(self):
            return {}

        def save(self, *args):
            raise AssertionError("nothing to save")

    async def main():
        baselines = Baselines(load)
        judge = Judge(NoKeys(), baselines, lambda ic: None)
        with pytest.raises(ConnectionError):
            await judge(0, SLOT_MS + 60_000)
        assert await judge(0, SLOT_MS + 60_000) == []        # read again
        assert await judge(0, SLOT_MS + 70_000) == []        # cached
        await judge(0, SLOT_MS + 7 * 60_000)                 # past PREFETCH_AFTER_MS: the next slot is read
        await asyncio.sleep(0)
    asyncio.run(main())
    assert reads == [SLOT_MS, SLOT_MS, 2 * SLOT_MS]
