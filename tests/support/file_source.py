"""Builds FileSources on the test broker and counts what they published."""
from __future__ import annotations

import gc
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.checkpoint import CheckpointStore
from cdrflow.producers.file_source import FileSource, SourceStats
from cdrflow.producers.formats import parser_for
from cdrflow.producers.publisher import Publisher
from cdrflow.schemas.envelope import decode_batch

from support.kafka import read_all


class Harness:
    """Builds FileSources on the test's broker and counts the Kafka messages they had
    acknowledged, so a message published twice (or never) shows on the topic."""

    def __init__(self, settings, tmp_path: Path):
        self.settings = settings
        self.checkpoint_path = tmp_path / "checkpoints" / f"{SOURCE}.json"
        self.messages = 0
        self.publishers: list[Publisher] = []

    def source(self, *paths: Path, pattern: str = "*", after_chunk=None, format: str = "asterisk_csv") -> FileSource:
        publisher = Publisher(self.settings.kafka_bootstrap, self.settings)
        self.publishers.append(publisher)
        return FileSource(source=SOURCE, paths=list(paths), parser=parser_for(format),
                          publisher=publisher, checkpoints=CheckpointStore(self.checkpoint_path),
                          timezone=UTC, pattern=pattern, on_progress=self._counter(after_chunk))

    def _counter(self, after_chunk):
        published = 0

        def on_progress(stats: SourceStats) -> None:
            nonlocal published
            new, published = stats.cdrs - published, stats.cdrs
            self.messages += -(-new // self.settings.batch_max_cdrs)   # one envelope per batch_max
            if after_chunk:
                after_chunk(stats)
        return on_progress

    def published(self) -> list[dict]:
        values = read_all(self.settings.kafka_bootstrap, self.settings.topic_cdr_batches, expect=self.messages)
        assert len(values) == self.messages
        return [cdr for value in values for cdr in decode_batch(value)]

    def close(self) -> None:
        for publisher in self.publishers:
            publisher.close()
        # Tansu stops only after its clients disconnect (else the broker fixture waits 5 s):
        # let the producers go.
        self.publishers.clear()
        gc.collect()


SOURCE = "pbx-1"


UTC = ZoneInfo("UTC")
