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
