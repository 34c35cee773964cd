"""Event time over several Kafka partitions: the newest time read from each, and the oldest of those.

A consumer reads its partitions unevenly (a fetch can bring tens of seconds of one partition's
event time before the next partition's), so the newest record seen says nothing about the
others; time has passed t only once every partition has been read past t. A partition that
stops delivering (revoked, or no traffic) would hold the clock back for ever, so one unread for
IDLE_S of wall time no longer counts.
"""
from __future__ import annotations

IDLE_S = 10.0


class PartitionClock:
    def __init__(self, idle_s: float = IDLE_S) -> None:
        self.idle_s = idle_s
        self._read: dict[int, tuple[int, float]] = {}   # partition → (newest event ms, wall time read)

    def read(self, partition: int, event_ms: int, now_s: float) -> None:
        newest = self._read.get(partition, (event_ms, now_s))[0]
        self._read[partition] = (max(newest, event_ms), now_s)

    def watermark(self, now_s: float) -> int | None:
        """The oldest newest event time of the partitions read within idle_s; None if there are none."""
        live = [ms for ms, seen in self._read.values() if now_s - seen < self.idle_s]
        return min(live) if live else None
