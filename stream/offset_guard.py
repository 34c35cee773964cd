"""Holds cdr.batches to contiguous offsets per partition: the ingest agent takes a partition's
messages only at the offset after the last one it took, or at the group's committed offset
after an assignment.

Why: after a rebalance Faust seeks each partition back to its committed offset, but a message
fetched before the rebalance can still reach the stream (Faust drops such messages by consumer
generation, and Tansu gives a re-join the generation it had). The consumer then records that
message's offset as read and drops the re-fetched messages before it as already read: they are
skipped (stored by nobody until a restart) and the partition's commits stall at the gap. The
producers are idempotent and not transactional, so a cdr.batches partition has no gaps of its
own: a message past the expected offset is such a stray. The guard refuses it and asks for a
seek back to the expected offset; the writer skips what was stored already. Should the same
jump come back right after that seek, the gap is real (retention deleted the messages before
they were read) and is taken, with a warning.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Sequence

log = logging.getLogger("cdrflow.stream")


@dataclass
class Admitted:
    """What a take may hold: the indexes of the messages kept, and the partitions to seek back to
    an offset (partition → offset)."""

    kept: list[int]
    rewind: dict[int, int]


@dataclass
class OffsetGuard:
    committed: Callable[[int], int | None]     # partition → the group's committed offset, None if none
    _expected: dict[int, int] = field(default_factory=dict)     # partition → the next offset to take
    _rewound: dict[int, tuple[int, int]] = field(default_factory=dict)   # partition → (sought to, stray seen)

    def assigned(self, partitions: Sequence[int]) -> None:
        """A rebalance gave these partitions (again): their next offset is the committed one."""
        for partition in partitions:
            self._expected.pop(partition, None)
            self._rewound.pop(partition, None)

    def admit(self, positions: Sequence[tuple[int, int]]) -> Admitted:
        """positions: each message's (partition, offset), in delivery order."""
        kept: list[int] = []
        rewind: dict[int, int] = {}
        for index, (partition, offset) in enumerate(positions):
            if partition in rewind:
                continue        # refused from its first stray on: the seek re-reads them
            expected = self._expected.get(partition)
            if expected is None:
                expected = self.committed(partition)
            if expected is not None and offset > expected and not self._real_gap(partition, expected, offset):
                log.warning("cdr.batches/%d: message %d arrived while %d was expected (a message fetched "
                            "before a rebalance); seeking back to %d", partition, offset, expected, expected)
                self._rewound[partition] = (expected, offset)
                rewind[partition] = expected
                continue
            # an offset below the expected one is a redelivery: taken again, its stored CDRs skipped
            self._expected[partition] = max(offset + 1, expected or 0)
            kept.append(index)
        return Admitted(kept, rewind)

    def _real_gap(self, partition: int, expected: int, offset: int) -> bool:
        if self._rewound.get(partition) != (expected, offset):
            return False
        log.warning("cdr.batches/%d: offsets %d-%d are gone from the topic (deleted by retention before "
                    "they were read); going on from %d", partition, expected, offset - 1, offset)
        return True
