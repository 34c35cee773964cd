"""Event time over several Kafka partitions: the newest time read from each, and the oldest of those.

A consumer reads its partitions unevenly (a fetch can bring tens of seconds of one partition's
event time before the next partition's), so the newest record seen says nothing about the
others; time has passed t only once every partition has been read past t. A partition that
stops delivering (revoked, or no traffic) would hold the clock back for ever, so one unread for
IDLE_S of wall time no longer counts — unless it still has records to read (its high watermark is
past the offset read): under load a partition can wait longer than that for its turn.

The detector uses the same clock over the senders of one partials partition (ingest workers,
no high watermark): a worker that stops sending ticks leaves its clock after IDLE_S.
"""
from __future__ import annotations

from typing import Callable, Hashable

IDLE_S = 10.0


class PartitionClock:
    def __init__(self, idle_s: float = IDLE_S) -> None:
        self.idle_s = idle_s
        self._read: dict[Hashable, tuple[int, int, float]] = {}   # partition → (newest event ms, offset, wall time)

    def read(self, partition: Hashable, event_ms: int, offset: int, now_s: float) -> None:
        newest, last, _ = self._read.get(partition, (event_ms, offset, now_s))
        self._read[partition] = (max(newest, event_ms), max(last, offset), now_s)

    def watermark(self, now_s: float, highwater: Callable[[Hashable], int | None]) -> int | None:
        """The oldest newest event time of the partitions read within idle_s or with records left
        (highwater: partition → the offset after its last record, None if unknown); None if none."""
        def counts(partition: Hashable, offset: int, seen: float) -> bool:
            end = highwater(partition)
            return now_s - seen < self.idle_s or (end is not None and offset + 1 < end)
        live = [ms for p, (ms, offset, seen) in self._read.items() if counts(p, offset, seen)]
        return min(live) if live else None
