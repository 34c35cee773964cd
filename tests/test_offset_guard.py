"""The ingest agent's guard against a stray message after a rebalance (stream/offset_guard.py):
a partition's messages are taken only at contiguous offsets from the committed one."""
from __future__ import annotations

from cdrflow.stream.offset_guard import OffsetGuard


def guard_at(committed: dict[int, int | None]) -> OffsetGuard:
    return OffsetGuard(committed=lambda partition: committed.get(partition))


def test_contiguous_messages_from_the_committed_offset_are_all_taken():
    verdict = guard_at({0: 10}).admit([(0, 10), (0, 11), (0, 12)])
    assert (verdict.kept, verdict.rewind) == ([0, 1, 2], {})


def test_a_stray_past_the_committed_offset_is_refused_and_the_partition_sought_back():
    guard = guard_at({0: 10, 1: 4})
    # partition 0's first message after the assignment is 15: 10-14 would be skipped
    verdict = guard.admit([(1, 4), (0, 15), (1, 5), (0, 16)])
    assert verdict.kept == [0, 2]                     # partition 1 goes on; 0's strays are all refused
    assert verdict.rewind == {0: 10}
    # the seek re-reads from 10: every message is taken, the strays' offsets in their turn
    verdict = guard.admit([(0, offset) for offset in range(10, 17)])
    assert (verdict.kept, verdict.rewind) == (list(range(7)), {})


def test_a_stray_between_takes_is_refused():
    guard = guard_at({0: 0})
    assert guard.admit([(0, 0), (0, 1)]).kept == [0, 1]
    verdict = guard.admit([(0, 40), (0, 2)])
    assert (verdict.kept, verdict.rewind) == ([], {0: 2})


def test_a_redelivery_below_the_expected_offset_is_taken_again():
    guard = guard_at({0: 5})
    assert guard.admit([(0, 5), (0, 6), (0, 7)]).kept == [0, 1, 2]
    # the writer skips the stored CDRs; the next offset stays 8
    assert guard.admit([(0, 6), (0, 7)]).kept == [0, 1]
    assert guard.admit([(0, 9)]).rewind == {0: 8}


def test_a_gap_that_comes_back_after_the_seek_is_real_and_taken():
    guard = guard_at({0: 10})
    assert guard.admit([(0, 25)]).rewind == {0: 10}
    # retention deleted 10-24: the seek to 10 gives 25 again
    verdict = guard.admit([(0, 25), (0, 26)])
    assert (verdict.kept, verdict.rewind) == ([0, 1], {})
    assert guard.admit([(0, 30)]).rewind == {0: 27}    # later jumps are strays again


def test_an_assignment_starts_again_from_the_committed_offset():
    committed: dict[int, int | None] = {0: 3}
    guard = guard_at(committed)
    assert guard.admit([(0, 3), (0, 4), (0, 5)]).kept == [0, 1, 2]
    committed[0] = 5                       # the group committed 3-4; 5 was in flight at the rebalance
    guard.assigned([0])
    assert guard.admit([(0, 5)]).kept == [0]


def test_a_group_without_a_committed_offset_takes_its_first_message():
    guard = guard_at({0: None})
    assert guard.admit([(0, 7), (0, 8)]).kept == [0, 1]
    assert guard.admit([(0, 10)]).rewind == {0: 9}
