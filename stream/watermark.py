"""Event time over several Kafka partitions: the newest time read from each, and the oldest of those.

A consumer reads its partitions unevenly (a fetch can bring tens of seconds of one partition's
event time before the next partition's), so the newest record seen says nothing about the
others; time has passed t only once every partition has been read past t. A partition that
stops delivering (revoked, or no traffic) would hold the clock back for ever, so one unread for
IDLE_S of wall time no longer counts — unless it still has records to read (its high watermark is
past the offset read): under load a partition can wait longer than that for its turn. A partition
assigned but not read yet holds the clock too while it has records (its high watermark is past the
position the consumer starts from) or, its high watermark still unknown, for IDLE_S: a worker
starting on a backlog reads one partition's minutes before another's, and ticks run ahead of the
unread ones would have the detector judge minutes it has seen only part of.

The detector uses the same clock over the senders of one partials partition (ingest workers,
no high watermark): a worker that stops sending ticks leaves its clock after IDLE_S.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable

IDLE_S = 10.0


class PartitionClock:
    def __init__(self, idle_s: float = IDLE_S) -> None:
        self.idle_s = idle_s
        self._read: dict[Hashable, tuple[int, int, float]] = {}   # partition → (newest event ms, offset, wall time)
        self._waiting: dict[Hashable, float] = {}      # assigned, not read yet → wall time first seen assigned

    def read(self, partition: Hashable, event_ms: int, offset: int, now_s: float) -> None:
        newest, last, _ = self._read.get(partition, (event_ms, offset, now_s))
        self._read[partition] = (max(newest, event_ms), max(last, offset), now_s)

    def watermark(self, now_s: float, highwater: Callable[[Hashable], int | None],
                  assigned: Iterable[Hashable] = (), start: Callable[[Hashable], int | None] = lambda _p: None,
                  ) -> int | None:
        """The oldest newest event time of the partitions read within idle_s or with records left
        (highwater: partition → the offset after its last record, None if unknown); None if none,
        or while an assigned partition not read yet holds it (start: partition → the offset the
        consumer reads it from, None if from its beginning)."""
        for partition in assigned:
            if partition not in self._read and self._holds(partition, now_s, highwater(partition), start(partition)):
                return None
        def counts(partition: Hashable, offset: int, seen: float) -> bool:
            end = highwater(partition)
            return now_s - seen < self.idle_s or (end is not None and offset + 1 < end)
        live = [ms for p, (ms, offset, seen) in self._read.items() if counts(p, offset, seen)]
        return min(live) if live else None

    def _holds(self, partition: Hashable, now_s: float, end: int | None, begin: int | None) -> bool:
        since = self._waiting.setdefault(partition, now_s)
        if end is None:
            return now_s - since < self.idle_s
        return end > (begin or 0)
