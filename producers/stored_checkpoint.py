"""Stored checkpoints: where a file source resumes when the broker keeps nothing across a stop.

The local Tansu broker of `cdrflow up` has only a memory engine, so a checkpoint moved on the
broker's acknowledgement passes lines whose CDRs die with the broker (stopped, crashed, killed)
before the worker stored them. Here the position that survives a restart moves only when the
worker has stored everything up to it:

- after each chunk is published and acknowledged, the source records the chunk's end position
  with the Kafka offsets its CDR batches got (partition → highest offset, from the delivery
  reports: Publisher.take_marks);
- the worker commits a batch's offset only after ClickHouse stored its CDRs (stream/ingest.py acks a
  take after the write; Faust commits acked offsets), so a chunk is stored once the worker
  group's committed offset has passed each of its offsets; reading the group's committed offsets
  does not join the group;
- a file's stored position advances over its chunks in order, to the end of the last chunk
  stored with every earlier one. A chunk without CDRs — dead letters only, a header, blank lines —
  has nothing to wait for and never holds the position back (its dead letters are acknowledged
  by the broker before the chunk is recorded, as everywhere).
- On start the source resumes from the stored position (CheckpointStore(resume_from_stored=True))
  and publishes the overlap again; the worker recognises those CDRs by cdr_id and stores none
  twice.

Why this and not another design: asking ClickHouse which `source_offset`s are stored cannot tell a
line that is still in flight from one that never had a CDR (dead letter, header, a grouped call's
other half), and a scan per file is slow; a drain on stop does nothing for a crash; a persistent
broker engine is not in the Tansu build we ship. Committed offsets are exactly the worker's "this is
stored", cost one round trip, and hold for any format and any number of workers.

With a broker that keeps its log (Kafka), the acknowledgement is enough: an unconsumed message
is still there after any restart, so sources resume from the acknowledged offset and nothing here
is used.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from cdrflow.infra.config import Settings
from cdrflow.infra.kafka_admin import WORKER_GROUP
from cdrflow.infra.kafka_security import confluent_config

from .checkpoint import CheckpointStore

CONFIRM_EVERY_S = 0.5


@dataclass
class PublishedChunk:
    file_id: str
    position: int                 # the file's checkpoint once this chunk is stored
    marks: dict[int, int]         # CDR topic partition → highest offset of this chunk's batches
    cdrs: int


class StoredConfirmations:
    """Chunks published but not yet confirmed stored, and the confirmation of them."""

    def __init__(self, bootstrap: str, settings: Settings, group: str = WORKER_GROUP):
        self.topic = settings.topic_cdr_batches
        self.pending: deque[PublishedChunk] = deque()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                   "enable.auto.commit": False, **confluent_config(settings)})
        self._confirmed_at = 0.0

    def record(self, file_id: str, position: int, marks: dict[int, int], cdrs: int) -> None:
        self.pending.append(PublishedChunk(file_id, position, marks, cdrs))

    def forget(self, file_id: str) -> None:
        """A file truncated or gone: its published chunks no longer describe its content."""
        self.pending = deque(c for c in self.pending if c.file_id != file_id)

    @property
    def unconfirmed_cdrs(self) -> int:
        return sum(chunk.cdrs for chunk in self.pending)

    def committed(self, timeout_s: float = 5.0) -> dict[int, int]:
        """The worker group's committed offset per partition of the CDR topic ({} when unknown)."""
        partitions = {p for chunk in self.pending for p in chunk.marks}
        if not partitions:
            return {}
        try:
            answer = self._consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=timeout_s)
        except KafkaException:
            return {}       # broker unreachable: nothing is confirmed, so nothing moves
        return {tp.partition: tp.offset for tp in answer if tp.error is None and tp.offset >= 0}

    def confirm(self, checkpoints: CheckpointStore, throttle: bool = False) -> None:
        """Moves each file's stored position over its chunks the worker group has committed."""
        if throttle and time.monotonic() - self._confirmed_at < CONFIRM_EVERY_S:
            return
        self._confirmed_at = time.monotonic()
        if not self.pending:
            return
        committed = self.committed()
        positions: dict[str, int] = {}
        blocked: set[str] = set()
        waiting: deque[PublishedChunk] = deque()
        for chunk in self.pending:
            if chunk.file_id not in blocked and all(committed.get(p, -1) > offset for p, offset in chunk.marks.items()):
                positions[chunk.file_id] = chunk.position
            else:
                blocked.add(chunk.file_id)
                waiting.append(chunk)
        self.pending = waiting
        checkpoints.confirm(positions)

    def close(self) -> None:
        self._consumer.close()
