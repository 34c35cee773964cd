"""The ingest chain (stream/ingest.py) driven with fake ports, in milliseconds: the order of write,
side outputs and acknowledgement, retried writes, partials of fresh rows only, join on stop, and
dead letters in one batch. The Kafka-backed worker is tested in tests/test_pipeline.py."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from cdrflow.infra.config import Settings
from cdrflow.numbering.hits import DisconnectedHits
from cdrflow.producers.simulate import default_config, generate
from cdrflow.schemas.envelope import encode_batch
from cdrflow.stream.columns import Columns
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.ingest import Announce, IngestPorts, Message, ingest_chain, parts_by_size
from cdrflow.stream.worker_stats import WorkerStats

START_MS = 1_795_000_000_000
SETTINGS = Settings()
CDRS = list(generate(default_config(SETTINGS, seed=5, calls_per_second=200.0, start_ms=START_MS), count=600))


def messages(*payloads: bytes) -> list[Message]:
    return [Message(p, "cdr.batches", 0, offset, START_MS / 1000) for offset, p in enumerate(payloads)]


def take_of(cdrs: list[dict]) -> list[Message]:
    return messages(*(encode_batch("sim", cdrs[i:i + 200]) for i in range(0, len(cdrs), 200)))


class FakePorts:
    """Records every call in order; the write stores what it is given unless told otherwise."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.stored_ids: set[str] = set()
        self.write_gate: asyncio.Event | None = None
        self.failures_left = 0
        self.dead_letter_batches: list[list[bytes]] = []
        self.partials: list = []
        self.sleeps: list[float] = []
        self.partials_gate: asyncio.Event | None = None
        self.partials_refused = False

    async def write(self, cdrs: Columns) -> Columns:
        if self.write_gate is not None:
            await self.write_gate.wait()
        if self.failures_left:
            self.failures_left -= 1
            self.log.append("write failed")
            raise ConnectionError("ClickHouse is down\nand says so at length")
        fresh = [i for i, cdr_id in enumerate(cdrs["cdr_id"]) if cdr_id not in self.stored_ids]
        self.stored_ids.update(cdrs["cdr_id"])
        self.log.append(f"write {len(fresh)}")
        return cdrs.select(fresh)

    async def send_dead_letters(self, letters: list[bytes]) -> None:
        self.dead_letter_batches.append(letters)
        self.log.append(f"dead letters {len(letters)}")

    async def send_partials(self, records: list) -> None:
        if self.partials_gate is not None:
            await self.partials_gate.wait()     # the broker is slow to confirm
        if self.partials_refused:
            self.log.append("partials refused")
            raise RuntimeError("1 of 12 record(s) not delivered")
        self.partials += records
        self.log.append("partials")

    async def send_hits(self, records: list) -> None:
        self.log.append("hits")

    async def ack(self, token) -> None:
        self.log.append(f"ack {token}")

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    def ports(self) -> IngestPorts:
        return IngestPorts(write=self.write, send_dead_letters=self.send_dead_letters,
                           send_partials=self.send_partials, send_hits=self.send_hits, ack=self.ack,
                           wall=lambda: START_MS / 1000 + 600, monotonic=lambda: 100.0, sleep=self.sleep)


def chain_of(fake: FakePorts, stats: WorkerStats | None = None):
    return ingest_chain(fake.ports(), Enricher(SETTINGS.home_region, SETTINGS.interconnects, SETTINGS.tenants),
                        stats or WorkerStats(), DisconnectedHits(60.0), retention_days=30, partitions=2,
                        worker_id="test")


def seizures(records: list) -> int:
    return sum(p["seizures"] for key, value, _ in records if key is not None
               for p in orjson.loads(value)["minutes"].values())


def test_nothing_is_acknowledged_before_the_write_and_takes_finish_in_order():
    async def main():
        fake = FakePorts()
        fake.write_gate = asyncio.Event()
        chain = chain_of(fake)
        await chain.take(take_of(CDRS[:400]), "take-1")
        for _ in range(20):
            await asyncio.sleep(0)
        assert fake.log == []                   # the write waits: nothing acknowledged
        fake.write_gate.set()
        await chain.take(take_of(CDRS[400:]), "take-2")    # waits for take 1 before starting
        await chain.join()
        return fake.log
    log = asyncio.run(main())
    assert log == ["write 400", "partials", "ack take-1", "write 200", "partials", "ack take-2"]


def test_a_take_in_flight_no_longer_holds_its_envelopes():
    """Held until the ack, a take's envelopes would stay through its write and announce: ~80 MB per
    100,000 CDRs, twice more in a worker that is behind."""
    async def main():
        fake = FakePorts()
        fake.write_gate = asyncio.Event()
        chain = chain_of(fake)
        taken = take_of(CDRS[:400])
        assert all(m.value for m in taken)
        await chain.take(taken, "take-1")
        held = [m.value for m in taken]          # while its write waits, not yet acknowledged
        fake.write_gate.set()
        await chain.join()
        return held, fake
    held, fake = asyncio.run(main())
    assert held == [b""] * 2
    assert "ack take-1" in fake.log and seizures(fake.partials) == 400     # decoded before they went


def test_the_next_take_is_written_while_the_previous_one_is_announced_and_acks_stay_in_order():
    async def main():
        fake = FakePorts()
        fake.partials_gate = asyncio.Event()
        chain = chain_of(fake)
        await chain.take(take_of(CDRS[:400]), "take-1")
        await chain.take(take_of(CDRS[400:]), "take-2")     # take 1 is stored, still announcing
        await chain.take(take_of(CDRS[:100]), "take-3")     # a redelivery: take 2 stored meanwhile
        for _ in range(20):
            await asyncio.sleep(0)
        waiting = list(fake.log)
        fake.partials_gate.set()
        await chain.join()
        return waiting, fake.log
    waiting, log = asyncio.run(main())
    assert waiting == ["write 400", "write 200", "write 0"]       # no ack while take 1's partials wait
    assert log[3:] == ["partials", "ack take-1", "partials", "ack take-2", "partials", "ack take-3"]


def test_side_outputs_not_delivered_fail_the_take_and_every_take_after_it_unacknowledged():
    async def main():
        fake = FakePorts()
        fake.partials_refused = True
        chain = chain_of(fake)
        await chain.take(take_of(CDRS[:400]), "take-1")
        await chain.take(take_of(CDRS[400:]), "take-2")
        with pytest.raises(RuntimeError, match="not delivered"):
            await chain.join()
        return fake.log
    assert asyncio.run(main()) == ["write 400", "partials refused", "write 200"]


def test_a_failed_write_acknowledges_nothing_and_is_retried_with_backoff():
    async def main():
        fake, stats = FakePorts(), WorkerStats()
        fake.failures_left = 10**9              # ClickHouse stays down
        chain = chain_of(fake, stats)
        await chain.take(take_of(CDRS[:200]), "take-1")
        for _ in range(50):
            await asyncio.sleep(0)
        failing = (list(fake.log), stats.write_error, list(fake.sleeps))
        fake.failures_left = 0                  # back: the same take is stored, then acknowledged
        await chain.join()
        return failing, fake.log, stats
    (log, error, sleeps), after, stats = asyncio.run(main())
    assert log and set(log) == {"write failed"}
    assert error == "ConnectionError: ClickHouse is down"
    assert sleeps[:6] == [1, 2, 4, 8, 16, 30] and max(sleeps) == 30
    assert after[-3:] == ["write 200", "partials", "ack take-1"]
    assert stats.write_error is None and stats.cdrs_stored == 200 and stats.write_failures == len(log)


def test_partials_count_only_the_rows_stored_by_this_take():
    async def main():
        fake = FakePorts()
        fake.stored_ids = {c["cdr_id"] for c in CDRS[:300]}     # a redelivery: half were stored before
        chain = chain_of(fake)
        await chain.take(take_of(CDRS), "again")
        await chain.join()
        return fake
    fake = asyncio.run(main())
    finals = [c for c in CDRS[300:] if c["record_kind"] != "start"]
    assert fake.log[0] == "write 300"
    assert 0 < seizures(fake.partials) <= len(finals)
    routed = Enricher(SETTINGS.home_region, SETTINGS.interconnects).columns(Columns.from_rows(finals))
    assert seizures(fake.partials) == sum(1 for ic in routed["interconnect"] if ic)


def test_join_drains_the_write_in_flight():
    async def main():
        fake = FakePorts()
        fake.write_gate = asyncio.Event()
        chain = chain_of(fake)
        await chain.take(take_of(CDRS[:200]), "last")
        asyncio.get_running_loop().call_later(0.01, fake.write_gate.set)
        await chain.join()                      # what the agent does on stop
        return fake.log
    assert asyncio.run(main()) == ["write 200", "partials", "ack last"]


def test_dead_letters_of_a_take_go_out_in_one_batch_after_the_write():
    bad = [{**CDRS[0], "duration_ms": -1}, {**CDRS[1], "surprise": 1}, {**CDRS[2], "pdd_ms": "120"}]

    async def main():
        fake, stats = FakePorts(), WorkerStats()
        chain = chain_of(fake, stats)
        await chain.take(messages(encode_batch("sim", [*bad, *CDRS[3:10]]), b"not json", b'{"v": 9, "cdrs": []}'),
                         "t")
        await chain.join()
        return fake, stats
    fake, stats = asyncio.run(main())
    [letters] = fake.dead_letter_batches
    reasons = [orjson.loads(letter)["reason"] for letter in letters]
    assert [orjson.loads(letter)["position"] for letter in letters] == [
        "cdr.batches/0@0#0", "cdr.batches/0@0#1", "cdr.batches/0@0#2", "cdr.batches/0@1", "cdr.batches/0@2"]
    assert reasons[0].startswith("invalid CDR: Expected `int` >= 0") and "unsupported envelope version 9" in reasons
    assert reasons[3].startswith("not JSON: ")
    assert fake.log[:2] == ["write 7", "dead letters 5"] and fake.log[-1] == "ack t"
    assert stats.dead_letters == 5 and stats.cdrs_stored == 7


def test_steps_are_timed_per_cdr():
    async def main():
        fake, stats = FakePorts(), WorkerStats()
        chain = chain_of(fake, stats)
        await chain.take(take_of(CDRS), "t")
        await chain.join()
        return stats.as_dict()["steps_us_per_cdr"]
    steps = asyncio.run(main())
    assert list(steps) == ["decode", "retention", "enrich", "partials", "write", "announce", "acknowledge"]
    assert all(us > 0 for us in steps.values())


@pytest.mark.parametrize("days_old, stored", [(29, 10), (31, 0)])
def test_a_cdr_older_than_retention_is_a_dead_letter(days_old, stored):
    old = [{**c, "start_ms": c["start_ms"] - days_old * 86_400_000} for c in CDRS[:10]]

    async def main():
        fake = FakePorts()
        chain = chain_of(fake)
        await chain.take(take_of(old), "t")
        await chain.join()
        return fake
    fake = asyncio.run(main())
    assert fake.log[0] == f"write {stored}"
    assert sum(len(batch) for batch in fake.dead_letter_batches) == 10 - stored


def test_partials_go_without_ticks_while_an_assigned_partition_is_not_read_yet():
    """A worker starting on a backlog: partition 1 has records but none is read yet, so event time
    is unknown; partials of partition 0's take go out (the detector counts them), ticks do not."""
    def ticks(records: list) -> list[int]:
        return [orjson.loads(value)["watermark_ms"] for key, value, _ in records if key is None]

    async def main():
        fake = FakePorts()
        ports = fake.ports()
        ports.assigned, ports.highwater, ports.start = lambda: [0, 1], {0: 2, 1: 5}.get, lambda p: None
        chain = ingest_chain(ports, Enricher(SETTINGS.home_region, SETTINGS.interconnects, SETTINGS.tenants),
                             WorkerStats(), DisconnectedHits(60.0), retention_days=30, partitions=2, worker_id="test")
        await chain.take(take_of(CDRS[:400]), "take-1")
        await chain.join()
        before = list(fake.partials)
        second = [Message(m.value, m.topic, 1, m.offset, m.timestamp_s) for m in take_of(CDRS[400:])]
        await chain.take(second, "take-2")
        await chain.join()
        return before, fake.partials[len(before):]
    before, after = asyncio.run(main())
    assert seizures(before) == 400 and ticks(before) == []
    assert seizures(after) == 200 and ticks(after) and max(ticks(after)) <= max(c["end_ms"] for c in CDRS[:400])


@pytest.mark.parametrize(("sizes", "limit", "parts"), [
    ([13] * 20, 240, [[13] * 10, [13] * 10]),   # 260 over 240: two halves, not 234 and a sliver of 26
    ([10] * 10, 30, [[10] * 2, [10] * 3, [10] * 2, [10] * 3]),  # the fewest parts within 30: four
    ([29] * 4, 30, [[29], [29], [29], [29]]),
    ([10, 40, 10], 30, [[10], [40], [10]]),     # 40 > limit: alone
    ([30, 30], 30, [[30], [30]]),
    ([5, 5], 0, [[5], [5]]),                   # a limit under a byte: each alone
    ([1] * 5, 30, [[1] * 5]),
    ([], 30, []),
])
def test_a_take_of_big_envelopes_is_cut_into_about_equal_parts_of_at_most_the_limit_in_order(sizes, limit, parts):
    items = [(index, size) for index, size in enumerate(sizes)]
    cut = parts_by_size(items, limit, lambda item: item[1])
    assert [[size for _, size in part] for part in cut] == parts
    assert [item for part in cut for item in part] == items


def test_parts_of_one_take_are_written_and_acknowledged_in_order():
    async def main():
        fake = FakePorts()
        chain = chain_of(fake)
        take = take_of(CDRS)
        for number, part in enumerate(parts_by_size(take, 2 * len(take[0].value), lambda m: len(m.value)), 1):
            await chain.take(part, f"part-{number}")
        await chain.join()
        return fake.log, chain.stats
    log, stats = asyncio.run(main())
    assert log == ["write 400", "partials", "ack part-1", "write 200", "partials", "ack part-2"]
    assert (stats.takes, stats.messages, stats.cdrs_stored) == (2, 3, 600)


def test_every_step_boundary_the_watermark_passes_gets_its_tick():
    """Take 1 holds partition 0 to 29 s but partition 1 only to 19.99 s, so its ticks stop there.
    Take 2 brings partition 1's calls ending from 20 s on: its first step starts at 20 s. The
    detector judges at each 10-s boundary it reads; without a tick at 20 s it would judge next at
    29 s, a judgement skipped."""
    def ending(cdrs: list[dict], ends: list[int]) -> list[dict]:
        return [{**c, "start_ms": c["start_ms"] + e - c["end_ms"], "end_ms": e,
                 "answer_ms": c["answer_ms"] and c["answer_ms"] + e - c["end_ms"]} for c, e in zip(cdrs, ends)]

    def take(partition_cdrs: dict[int, list[dict]], offset: int) -> list[Message]:
        return [Message(encode_batch("sim", cdrs), "cdr.batches", p, offset, START_MS / 1000)
                for p, cdrs in partition_cdrs.items()]

    def ticks(records: list) -> list[int]:
        return [orjson.loads(value)["watermark_ms"] - START_MS for key, value, _ in records if key is None]

    def spread(first_s: float, last_s: float, n: int) -> list[int]:
        return [START_MS + int(1000 * (first_s + (last_s - first_s) * i / (n - 1))) for i in range(n)]

    async def main():
        fake = FakePorts()
        chain = ingest_chain(fake.ports(), Enricher(SETTINGS.home_region, SETTINGS.interconnects, SETTINGS.tenants),
                             WorkerStats(), DisconnectedHits(60.0), retention_days=30, partitions=1, worker_id="test")
        await chain.take(take({0: ending(CDRS[:150], spread(1, 29, 150)),
                               1: ending(CDRS[150:300], spread(1, 19.99, 150))}, 0), "take-1")
        await chain.join()
        first = ticks(fake.partials)
        await chain.take(take({1: ending(CDRS[300:450], spread(20, 29, 150)),
                               0: ending(CDRS[450:600], spread(29, 35, 150))}, 1), "take-2")
        await chain.join()
        return first, ticks(fake.partials)[len(first):]
    first, second = asyncio.run(main())
    assert max(first) == 19_990 and max(second) == 29_000       # never past partition 1's time
    assert {t for t in first + second if t % 10_000 == 0} == {10_000, 20_000}
    assert first + second == sorted(first + second)


def test_a_silence_gets_its_last_minute_of_boundary_ticks_and_an_older_tick_still_goes_out():
    """Closed minutes are judged whatever ticks come; the running minute's boundaries are what a
    skipped tick would lose. An older tick keeps the worker a live sender (stream/watermark.py)."""
    announce = Announce(FakePorts().ports(), DisconnectedHits(60.0), partitions=2, worker_id="w")

    def ticks(until_ms: int) -> list[tuple[int, int | None]]:
        return [(orjson.loads(value)["watermark_ms"], p) for _, value, p in announce.ticks_through(until_ms)]
    assert ticks(5_000) == [(5_000, 0), (5_000, 1)]
    assert [t for t, p in ticks(300_000) if p == 0] == [250_000, 260_000, 270_000, 280_000, 290_000, 300_000]
    assert ticks(290_000) == [(290_000, 0), (290_000, 1)] and announce.ticked == 300_000
