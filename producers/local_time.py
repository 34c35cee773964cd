"""Switch-local "YYYY-MM-DD HH:MM:SS" timestamps → UTC epoch ms, fast (Asterisk, FreeSWITCH CSV,
Kamailio acc, Ribbon)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

from .parsing import RecordError

_TIME_FORMAT_HINT = "expected YYYY-MM-DD HH:MM:SS"
_EPOCH = datetime(1970, 1, 1)
_MS = timedelta(milliseconds=1)
_SEXAGESIMAL = {f"{i:02d}": i for i in range(60)}
_HOUR = re.compile(r"\d{4}-\d\d-\d\d \d\d", re.ASCII)
_UNSET: Any = object()     # tells a key not cached from one cached as None
_MAX_CACHED_HOURS = 100_000

# tz → "YYYY-MM-DD HH" → UTC ms of that local hour, or None when the UTC offset changes inside
# the hour. strptime + zoneinfo per timestamp would cost more than the rest of the parse, and
# the CDRs of a file fall into few hours.
_hour_cache: dict[tzinfo, dict[str, int | None]] = {}
# tz → "YYYY-MM-DD HH:MM:" → UTC ms of that local minute, for minutes read before in hours with one
# offset: most timestamps then cost two lookups
_minute_cache: dict[tzinfo, dict[str, int]] = {}
_SECOND_MS = {f"{i:02d}": i * 1000 for i in range(60)}
# tz → "YYYY-MM-DD HH:MM:SS" → UTC ms (fold 0) of the seconds read before in hours with one
# offset: a busy switch's CDRs share their seconds, so a timestamp mostly costs one lookup
# (call_times looks here before it calls local_ms)
_second_cache: dict[tzinfo, dict[str, int]] = {}
_MAX_CACHED_SECONDS = 200_000


def _seconds(tz: tzinfo) -> dict[str, int]:
    seconds = _second_cache.get(tz)
    if seconds is None:
        seconds = _second_cache[tz] = {}
    return seconds


def utc_offset(moment: datetime) -> timedelta:
    """The UTC offset of an aware datetime (ZoneInfo and timezone give every local time one)."""
    offset = moment.utcoffset()
    assert offset is not None, moment
    return offset


def _hour_start_ms(key: str, tz: tzinfo) -> int | None:
    if not _HOUR.fullmatch(key):
        raise ValueError(key)
    first = datetime(int(key[:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]), tzinfo=tz)
    offset = utc_offset(first)
    if offset != utc_offset(first.replace(minute=59, second=59)):
        return None
    return (first.replace(tzinfo=None) - _EPOCH - offset) // _MS


def local_ms(text: str, tz: tzinfo, fold: int = 0) -> int:
    """Switch-local "YYYY-MM-DD HH:MM:SS" → UTC epoch ms; fold=1 picks the repeated autumn hour."""
    minutes = _minute_cache.get(tz)
    if minutes is None or len(minutes) > _MAX_CACHED_HOURS:
        minutes = _minute_cache[tz] = {}
    if not fold:
        seconds = _seconds(tz)
        ms = seconds.get(text)
        if ms is not None:
            return ms
        if len(seconds) > _MAX_CACHED_SECONDS:
            seconds.clear()
        # only prefixes the full parse below accepted are keys, and "SS" must be 00-59
        base = minutes.get(text[:17])
        if base is not None:
            second_ms = _SECOND_MS.get(text[17:])
            if second_ms is not None:
                ms = seconds[text] = base + second_ms
                return ms
    try:
        if len(text) != 19 or text[13] != ":" or text[16] != ":":
            raise ValueError(text)
        minute, second = _SEXAGESIMAL[text[14:16]], _SEXAGESIMAL[text[17:19]]
        hours = _hour_cache.get(tz)
        if hours is None or len(hours) > _MAX_CACHED_HOURS:
            hours = _hour_cache[tz] = {}
        key = text[:13]
        base = hours.get(key, _UNSET)
        if base is _UNSET:
            base = hours[key] = _hour_start_ms(key, tz)
        if base is not None and not fold:
            base = minutes[text[:17]] = base + minute * 60_000
            ms = _seconds(tz)[text] = base + second * 1000
            return ms
        local = datetime(int(key[:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]),
                         minute, second, tzinfo=tz, fold=fold)
        return (local.replace(tzinfo=None) - _EPOCH - utc_offset(local)) // _MS
    except (ValueError, KeyError, OverflowError):
        raise RecordError(f"bad timestamp {text[:40]!r}, {_TIME_FORMAT_HINT}") from None


def call_times(start: str, answer: str, end: str, tz: tzinfo) -> tuple[int, int | None, int]:
    """A call's switch-local start, answer ("" when unanswered) and end → UTC ms; a call across
    the autumn DST change ends (or is answered) in the repeated hour, after its start."""
    seconds = _seconds(tz)
    start_ms = seconds.get(start)
    if start_ms is None:
        start_ms = local_ms(start, tz)
    end_ms = seconds.get(end)
    if end_ms is None:
        end_ms = local_ms(end, tz)
    if end_ms < start_ms:
        end_ms = local_ms(end, tz, fold=1)
        if end_ms < start_ms:
            raise RecordError(f"end {end!r} is before start {start!r}")
    answer_ms = None
    if answer:
        answer_ms = seconds.get(answer)
        if answer_ms is None:
            answer_ms = local_ms(answer, tz)
        if answer_ms < start_ms:
            answer_ms = local_ms(answer, tz, fold=1)
        if not start_ms <= answer_ms <= end_ms:
            raise RecordError(f"answer {answer!r} is outside start {start!r} .. end {end!r}")
    return start_ms, answer_ms, end_ms


# Zone abbreviations that name one offset wherever they are used (IST, CST in Asia … do not).
ZONE_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "EST": -5, "EDT": -4, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10,
}
MONTHS = {m: i for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP",
                                      "OCT", "NOV", "DEC"), 1)}


# (local hour "YYYY-MM-DD HH", abbreviation, zone) → does the zone call that whole hour so; None
# for an hour with a change of offset or name, or a skipped or repeated one: then each time is
# checked on its own
_names_hour: dict[tuple[str, str, tzinfo], bool | None] = {}


def _zone_names_hour(local: str, abbreviation: str, configured: tzinfo) -> bool | None:
    key = (local[:13], abbreviation, configured)
    named = _names_hour.get(key, _UNSET)
    if named is _UNSET:
        ends = (f"{local[:13]}:00:00", f"{local[:13]}:59:59")
        first, last = (local_ms(text, configured) for text in ends)
        names = {datetime.fromtimestamp(ms / 1000, configured).tzname() for ms in (first, last)}
        uniform = (last - first == 3_599_000 and len(names) == 1
                   and [local_ms(text, configured, fold=1) for text in ends] == [first, last])
        if len(_names_hour) > _MAX_CACHED_HOURS:
            _names_hour.clear()
        named = _names_hour[key] = names == {abbreviation} if uniform else None
    return named


def abbreviated_local_ms(local: str, millis: str | None, abbreviation: str, configured: tzinfo) -> int:
    """Local "YYYY-MM-DD HH:MM:SS" + ".mmm" written with a zone abbreviation (Acme Packet,
    AudioCodes) → UTC ms: in the source's configured zone when that zone calls its time so (its
    DST rules then hold, the repeated autumn hour included), else by the unambiguous table."""
    fraction = int(millis.ljust(3, "0")) if millis else 0
    named = _zone_names_hour(local, abbreviation, configured)
    if named:
        return local_ms(local, configured) + fraction
    for fold in (0, 1) if named is None else ():
        ms = local_ms(local, configured, fold)
        if datetime.fromtimestamp(ms / 1000, configured).tzname() == abbreviation:
            return ms + fraction
    hours = ZONE_ABBREVIATIONS.get(abbreviation)
    if hours is None:
        raise RecordError(f"time zone {abbreviation!r} is neither the source's nor an unambiguous abbreviation")
    return local_ms(local, timezone.utc) - hours * 3_600_000 + fraction
