"""Event time over partitions read unevenly."""
from cdrflow.stream.watermark import PartitionClock


def test_event_time_is_the_slowest_live_partition():
    clock = PartitionClock(idle_s=10)
    caught_up = {0: 5, 1: 9}.get             # offset after each partition's last record
    assert clock.watermark(0.0, caught_up) is None
    clock.read(0, 50_000, offset=4, now_s=0.0)
    clock.read(1, 20_000, offset=3, now_s=1.0)
    assert clock.watermark(1.0, caught_up) == 20_000      # partition 1 is read only to 20 s
    clock.read(1, 15_000, offset=2, now_s=2.0)            # an older record does not move time back
    assert clock.watermark(2.0, caught_up) == 20_000
    clock.read(1, 70_000, offset=8, now_s=3.0)
    assert clock.watermark(3.0, caught_up) == 50_000      # now partition 0 is the slowest
    # partition 0, read to its end, unread since 0 s: from 10 s it no longer holds the clock back
    assert clock.watermark(9.9, caught_up) == 50_000
    assert clock.watermark(10.0, caught_up) == 70_000
    assert clock.watermark(13.0, caught_up) is None       # nothing read for 10 s
    # …but a partition with records left to read always counts, however long it waits its turn
    assert clock.watermark(13.0, {0: 6, 1: 9}.get) == 50_000


def test_an_assigned_partition_not_read_yet_holds_event_time_while_it_has_records():
    clock = PartitionClock(idle_s=10)
    clock.read(0, 50_000, offset=99, now_s=0.0)
    ends = {0: 100, 1: 40, 2: 7}.get                      # partition 1 has 40 records, 2 was read to 7 before
    starts = {1: None, 2: 7}.get                          # 1 is read from its beginning, 2 from its committed 7
    assert clock.watermark(0.0, ends, assigned=[0, 1, 2], start=starts) is None
    assert clock.watermark(60.0, ends, assigned=[0, 1, 2], start=starts) is None    # however long it waits
    clock.read(1, 30_000, offset=0, now_s=61.0)
    assert clock.watermark(61.0, ends, assigned=[0, 1, 2], start=starts) == 30_000  # 2 has nothing to read


def test_an_assigned_partition_of_unknown_end_holds_event_time_for_idle_s():
    clock = PartitionClock(idle_s=10)
    clock.read(0, 50_000, offset=3, now_s=0.0)
    unknown = {0: 4}.get
    assert clock.watermark(0.0, unknown, assigned=[0, 1]) is None
    assert clock.watermark(9.9, unknown, assigned=[0, 1]) is None
    assert clock.watermark(10.0, unknown, assigned=[0, 1]) is None     # partition 0 idle too by now…
    assert clock.watermark(10.0, {0: 9}.get, assigned=[0, 1]) == 50_000  # …unless it has records left
