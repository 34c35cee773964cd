"""Event time over partitions read unevenly."""
from cdrflow.stream.watermark import PartitionClock


def test_event_time_is_the_slowest_live_partition():
    clock = PartitionClock(idle_s=10)
    assert clock.watermark(0.0) is None
    clock.read(0, 50_000, now_s=0.0)
    clock.read(1, 20_000, now_s=1.0)
    assert clock.watermark(1.0) == 20_000            # partition 1 is read only to 20 s
    clock.read(1, 15_000, now_s=2.0)                  # an older record does not move time back
    assert clock.watermark(2.0) == 20_000
    clock.read(1, 70_000, now_s=3.0)
    assert clock.watermark(3.0) == 50_000            # now partition 0 is the slowest
    # partition 0 unread since 0 s: at 10 s it no longer holds the clock back
    assert clock.watermark(9.9) == 50_000
    assert clock.watermark(10.0) == 70_000
    assert clock.watermark(13.0) is None              # nothing read for 10 s
