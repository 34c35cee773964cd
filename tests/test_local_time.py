"""Zone-abbreviated local times (Acme Packet, AudioCodes): the per-hour cache of whether the
source's zone calls an hour by the written abbreviation gives what checking every time gives."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from cdrflow.producers.local_time import (
    ZONE_ABBREVIATIONS,
    abbreviated_local_ms,
    local_ms,
)
from cdrflow.producers.parsing import RecordError
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.fuzz import fuzz_examples

ZONES = [ZoneInfo(name) for name in ("America/New_York", "Europe/London", "Australia/Sydney",
                                     "Australia/Lord_Howe", "America/Los_Angeles", "UTC", "Asia/Kolkata")]
ABBREVIATIONS = ["EST", "EDT", "GMT", "BST", "AEST", "AEDT", "PST", "PDT", "UTC", "IST", "+1030", "+11", "CET"]


def checked_each_time(local: str, abbreviation: str, configured) -> int:
    """The rule without the cache: fold 0, then fold 1, named so by the zone; else the table."""
    for fold in (0, 1):
        ms = local_ms(local, configured, fold)
        if datetime.fromtimestamp(ms / 1000, configured).tzname() == abbreviation:
            return ms
    if abbreviation not in ZONE_ABBREVIATIONS:
        raise RecordError("neither")
    return local_ms(local, timezone.utc) - ZONE_ABBREVIATIONS[abbreviation] * 3_600_000


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(3_000), deadline=None, database=None)
@given(st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2030, 12, 31)),
       st.sampled_from(ZONES), st.sampled_from(ABBREVIATIONS))
@example(datetime(2017, 11, 5, 1, 30), ZoneInfo("America/New_York"), "EST")        # repeated hour
@example(datetime(2017, 11, 5, 1, 30), ZoneInfo("America/New_York"), "EDT")
@example(datetime(2017, 3, 12, 2, 30), ZoneInfo("America/New_York"), "EST")        # skipped hour
@example(datetime(2017, 4, 2, 2, 30), ZoneInfo("Australia/Sydney"), "AEST")        # repeated, not in the table
@example(datetime(2017, 10, 1, 1, 45), ZoneInfo("Australia/Lord_Howe"), "+11")     # 30-minute change
def test_cached_hours_agree_with_checking_each_time(local, zone, abbreviation):
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    try:
        expected = checked_each_time(text, abbreviation, zone)
    except RecordError:
        with pytest.raises(RecordError):
            abbreviated_local_ms(text, None, abbreviation, zone)
        return
    # twice: the first call fills the hour's cache entry, the second reads it
    assert abbreviated_local_ms(text, "5", abbreviation, zone) == expected + 500
    assert abbreviated_local_ms(text, None, abbreviation, zone) == expected


def test_repeated_hour_not_in_the_table_reads_the_later_offset():
    # Sydney 2017-04-02 02:30 happens twice; AEST (+10) is the second, after clocks went back
    ms = abbreviated_local_ms("2017-04-02 02:30:00", None, "AEST", ZoneInfo("Australia/Sydney"))
    utc = (datetime(2017, 4, 2, 2, 30) - timedelta(hours=10)).replace(tzinfo=timezone.utc)
    assert ms == int(utc.timestamp()) * 1000
