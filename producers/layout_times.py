"""The times and durations of a declared layout (layout_spec.py) → UTC epoch ms.

A time column has a strptime-like pattern (`%d/%m/%Y %H:%M:%S`), or is epoch seconds / ms / µs.
A pattern is compiled once into a regular expression whose groups are rewritten as
"YYYY-MM-DD HH:MM:SS" and read by local_time.local_ms: the zone's DST rules and the caches every
other format's times go through, instead of strptime + zoneinfo per value. strptime's reading is
kept where it matters: a number may have one digit less than its width (`1/9/2017 9:05:07`), a
space in the pattern matches any run of spaces, %b/%B read English month names in any case.
"""
from __future__ import annotations

import re
from datetime import timezone, tzinfo

from .local_time import MONTHS, local_ms
from .parsing import RecordError, whole_number

ISO_PATTERN = "%Y-%m-%d %H:%M:%S"
EPOCHS = {"epoch": 1000, "epoch_ms": 1, "epoch_us": None}   # value → ms: × 1000, as is, ÷ 1000
DURATION_UNITS = {"s": 1000, "ms": 1, "min": 60_000, "hms": None}   # hms: [H:]MM:SS

# directive → (group name, regular expression); a group name None is matched and ignored
_DIRECTIVES = {
    "Y": ("year", r"\d{4}"), "y": ("year2", r"\d\d"), "m": ("month", r"\d{1,2}"),
    "b": ("month_name", r"[A-Za-z]{3,9}"), "B": ("month_name", r"[A-Za-z]{3,9}"),
    "h": ("month_name", r"[A-Za-z]{3,9}"), "d": ("day", r"\d{1,2}"), "H": ("hour", r"\d{1,2}"),
    "I": ("hour12", r"\d{1,2}"), "p": ("ampm", r"[AaPp][Mm]"), "M": ("minute", r"\d{1,2}"),
    "S": ("second", r"\d{1,2}"), "f": ("fraction", r"\d{1,9}"), "z": ("offset", r"Z|[+-]\d\d:?\d\d"),
    "a": (None, r"[A-Za-z]{3,9}"), "A": (None, r"[A-Za-z]{3,9}"),
}
_SHORTHANDS = {"T": "%H:%M:%S", "F": "%Y-%m-%d"}
SUPPORTED = "%" + " %".join(sorted(_DIRECTIVES, key=str.lower)) + " %T %F %%"
_MONTH_NAMES = {name: i for i, name in enumerate(
    ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER",
     "NOVEMBER", "DECEMBER"), 1)} | MONTHS


class TimeFormat:
    """One time column's format: ms(text, zone, fold) → UTC epoch ms, or a RecordError naming the
    CDR field. ValueError at construction for a pattern that cannot be a call's time."""

    def __init__(self, fmt: str, field: str):
        self.fmt, self.field = fmt, field
        self.scale = EPOCHS.get(fmt, 0)
        self.epoch = fmt in EPOCHS
        if not self.epoch:
            self.regex, groups = _compile(fmt)
            self.iso = fmt == ISO_PATTERN
            self.has_offset = "offset" in groups

    def ms(self, text: str, tz: tzinfo, fold: int = 0) -> int:
        if self.epoch:
            return self._epoch_ms(text)
        if self.iso and not fold:
            try:
                return local_ms(text, tz)   # cached: a busy file's seconds repeat
            except RecordError:
                pass
        m = self.regex.fullmatch(text)
        if m is None:
            raise RecordError(f"{self.field}: {text[:40]!r} does not match {self.fmt!r}")
        try:
            local, fraction_ms, offset_ms = _local_text(m)
            if offset_ms is None:
                return local_ms(local, tz, fold) + fraction_ms
            return local_ms(local, timezone.utc) - offset_ms + fraction_ms
        except (RecordError, ValueError, KeyError):
            raise RecordError(f"{self.field}: {text[:40]!r} is no valid time for {self.fmt!r}") from None

    def _epoch_ms(self, text: str) -> int:
        whole, dot, fraction = text.partition(".")
        if self.scale is None:   # µs
            return whole_number(whole, self.field, "µs since 1970", 17) // 1000
        ms = whole_number(whole, self.field, "s since 1970" if self.scale == 1000 else "ms since 1970", 13)
        return ms * self.scale + (_fraction(fraction, self.field, self.scale) if dot else 0)


def _compile(fmt: str) -> tuple[re.Pattern, set[str]]:
    """A strptime-like pattern → (its regular expression, the group names), or a ValueError."""
    for short, long in _SHORTHANDS.items():
        fmt = fmt.replace(f"%{short}", long)
    parts, groups, i = [], set(), 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%":
            directive = fmt[i + 1:i + 2]
            if directive == "%":
                parts.append("%")
            elif directive in _DIRECTIVES:
                name, expression = _DIRECTIVES[directive]
                if name is None:
                    parts.append(f"(?:{expression})")
                elif name in groups:
                    raise ValueError(f"{fmt!r} gives the {name.replace('2', '')} twice")
                else:
                    groups.add(name)
                    parts.append(f"(?P<{name}>{expression})")
            else:
                raise ValueError(f"{fmt!r}: %{directive} is not supported (supported: {SUPPORTED}; "
                                 "or epoch, epoch_ms, epoch_us)")
            i += 2
        elif ch.isspace():
            parts.append(r"\s+")
            i += 1
            while i < len(fmt) and fmt[i].isspace():
                i += 1
        else:
            parts.append(re.escape(ch))
            i += 1
    needed = {"year": "%Y or %y", "month": "%m or %b", "day": "%d", "hour": "%H, or %I with %p", "minute": "%M"}
    have = set(groups)
    have |= {"year"} if "year2" in groups else set()
    have |= {"month"} if "month_name" in groups else set()
    have |= {"hour"} if {"hour12", "ampm"} <= groups else set()
    missing = [what for name, what in needed.items() if name not in have]
    if missing:
        raise ValueError(f"{fmt!r} lacks {', '.join(missing)}: a call's time needs the date and the minute")
    if ("hour12" in groups) != ("ampm" in groups) or {"hour", "hour12"} <= groups:
        raise ValueError(f"{fmt!r}: %I and %p go together, instead of %H")
    return re.compile("".join(parts), re.ASCII), groups


def _local_text(m: re.Match) -> tuple[str, int, int | None]:
    """A pattern's match → ("YYYY-MM-DD HH:MM:SS", its fraction in ms, its UTC offset in ms or None)."""
    g = m.groupdict()
    if g.get("year") is not None:
        year = int(g["year"])
    else:
        two = int(g["year2"])
        year = two + (1900 if two >= 69 else 2000)   # strptime's (POSIX) pivot
    month = int(g["month"]) if g.get("month") is not None else _MONTH_NAMES[g["month_name"].upper()]
    if g.get("hour") is not None:
        hour = int(g["hour"])
    else:
        hour = int(g["hour12"])
        if not 1 <= hour <= 12:
            raise ValueError(hour)
        hour = hour % 12 + (12 if g["ampm"].upper() == "PM" else 0)
    second = int(g["second"]) if g.get("second") is not None else 0
    local = f"{year:04d}-{month:02d}-{int(g['day']):02d} {hour:02d}:{int(g['minute']):02d}:{second:02d}"
    fraction = g.get("fraction")
    fraction_ms = int(fraction[:3].ljust(3, "0")) if fraction else 0
    offset = g.get("offset")
    if offset is None:
        return local, fraction_ms, None
    if offset == "Z":
        return local, fraction_ms, 0
    digits = offset[1:].replace(":", "")
    offset_ms = (int(digits[:2]) * 60 + int(digits[2:])) * 60_000
    return local, fraction_ms, offset_ms if offset[0] == "+" else -offset_ms


def _fraction(digits: str, field: str, unit_ms: int) -> int:
    """The ms of a decimal fraction of `unit_ms` ("25" of "65.25" s → 250)."""
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 9:
        raise RecordError(f"{field}: fraction {digits[:20]!r} is not decimal digits")
    return int(digits) * unit_ms // 10 ** len(digits)


def duration_ms(text: str, unit: str, field: str) -> int:
    """A duration column in its unit (s and min may be decimal; hms is [H:]MM:SS) → ms."""
    scale = DURATION_UNITS[unit]
    if scale is None:
        parts = text.split(":")
        if not 2 <= len(parts) <= 3 or any(len(p) != 2 for p in parts[1:]):
            raise RecordError(f"{field} must be [H:]MM:SS, got {text[:20]!r}")
        seconds = 0
        for i, part in enumerate(parts):
            value = whole_number(part, field, "hours, minutes or seconds", 7)
            if i and value > 59:
                raise RecordError(f"{field} must be [H:]MM:SS, got {text[:20]!r}")
            seconds = seconds * 60 + value
        return seconds * 1000
    whole, dot, fraction = text.partition(".")
    if dot and scale == 1:
        raise RecordError(f"{field} must be whole milliseconds, got {text[:20]!r}")
    unit_name = {1000: "seconds", 1: "milliseconds", 60_000: "minutes"}[scale]
    return whole_number(whole, field, unit_name) * scale + (_fraction(fraction, field, scale) if dot else 0)
