"""The stored checkpoint on the local broker (producers/stored_checkpoint.py): a file's resume
position moves only over chunks whose Kafka offsets the worker group committed; chunks without
CDRs never hold it back; a restart resumes from it; an unreadable checkpoint file stops the source.

The worker's commits are made here by a consumer of the worker group on the real broker (the same
OffsetCommit a Faust worker sends after ClickHouse stored a take), so each step is exact."""
from __future__ import annotations

import pytest
from cdrflow.infra.kafka_admin import WORKER_GROUP
from cdrflow.producers.checkpoint import CheckpointError, CheckpointStore
from cdrflow.producers.file_source import FileSource
from cdrflow.producers.formats import parser_for
from cdrflow.producers.publisher import Publisher
from cdrflow.producers.stored_checkpoint import StoredConfirmations
from confluent_kafka import Consumer, TopicPartition

from support.file_source import SOURCE, UTC
from support.files import write_asterisk_file


def durable_source(settings, tmp_path, cdr_dir) -> FileSource:
    return FileSource(source=SOURCE, paths=[cdr_dir], parser=parser_for("asterisk_csv"),
                      publisher=Publisher(settings.kafka_bootstrap, settings),
                      checkpoints=CheckpointStore(tmp_path / "checkpoints.json", resume_from_stored=True),
                      timezone=UTC, confirmations=StoredConfirmations(settings.kafka_bootstrap, settings))


def commit(settings, offsets: dict[int, int]) -> None:
    """The worker group commits partition → offset (the next offset it will read)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": WORKER_GROUP,
                         "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition(settings.topic_cdr_batches, p, o) for p, o in offsets.items()],
                        asynchronous=False)
    finally:
        consumer.close()


@pytest.fixture
def cdr_dir(tmp_path):
    directory = tmp_path / "cdrs"
    directory.mkdir()
    return directory


def test_the_stored_position_moves_only_over_chunks_the_worker_group_committed(settings, tmp_path, cdr_dir,
                                                                               ):
    # three polls, one chunk each: lines 0-9, a dead letter only, lines 10-19
    master = cdr_dir / "Master.csv"
    source = durable_source(settings, tmp_path, cdr_dir)
    write_asterisk_file(master, 10)
    source.poll()
    first_end = master.stat().st_size
    with open(master, "ab") as fh:
        fh.write(b'"only","three","columns"\n')
    source.poll()
    bad_end = master.stat().st_size
    write_asterisk_file(master, 10, first=10)
    source.poll()
    file_id = next(iter(source.checkpoints.entries))
    assert source.checkpoints.offset(file_id) == master.stat().st_size      # acknowledged to the end
    assert source.checkpoints.stored(file_id) == 0                          # nothing stored yet
    assert source.confirmations.unconfirmed_cdrs == 20
    first, dead_letter_only, last = (chunk.marks for chunk in source.confirmations.pending)
    assert first and last and dead_letter_only == {}

    # the worker stored the first chunk: the position passes it and the dead-letter chunk after it
    commit(settings, {p: offset + 1 for p, offset in first.items()})
    source.confirmations.confirm(source.checkpoints)
    assert source.checkpoints.stored(file_id) == bad_end > first_end
    assert source.confirmations.unconfirmed_cdrs == 10

    # a restart now resumes after the stored chunks, though the broker acknowledged them all
    restarted = CheckpointStore(tmp_path / "checkpoints.json", resume_from_stored=True)
    assert restarted.offset(file_id) == bad_end
    assert CheckpointStore(tmp_path / "checkpoints.json").offset(file_id) == master.stat().st_size

    commit(settings, {p: offset + 1 for p, offset in last.items()})
    assert source.settle() == 0
    assert source.checkpoints.stored(file_id) == master.stat().st_size
    source.publisher.close()
    source.confirmations.close()


def test_a_commit_short_of_a_chunk_does_not_move_the_position(settings, tmp_path, cdr_dir):
    write_asterisk_file(cdr_dir / "Master.csv", 2000)     # four batches of 500 CDRs
    source = durable_source(settings, tmp_path, cdr_dir)
    source.poll()
    marks = source.confirmations.pending[0].marks
    commit(settings, {p: offset for p, offset in marks.items()})           # the last batch not yet
    source.confirmations.confirm(source.checkpoints)
    assert source.checkpoints.stored(next(iter(source.checkpoints.entries))) == 0
    assert source.settle(stop=lambda: True) == 2000
    source.publisher.close()
    source.confirmations.close()


@pytest.mark.parametrize("content", [b'{"1:2": {"path": "/x", "offset": 12', b"[]",
                                     b'{"1:2": {"path": "/x", "offset": -4}}',
                                     b'{"1:2": {"path": "/x", "offset": "12"}}', b"\xff\xfe"])
def test_an_unreadable_checkpoint_file_stops_the_source_and_says_why(tmp_path, content):
    path = tmp_path / "checkpoints.json"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="is unreadable .*restore the file, or delete it"):
        CheckpointStore(path)
    assert path.read_bytes() == content        # left for the user to inspect
