"""Format `layout`: any delimited CDR export, read by a declared layout (layout_spec.py).

The layout comes from `--layout FILE.toml` or Settings.layout (CDRFLOW_LAYOUT, `layout` in the
settings TOML); a bare name picks a shipped example (producers/layouts/). A file is split like
every CSV format (CsvLineParser, the compiled split reading only the columns the layout names)
and each row becomes a record through cdr_record's new_record / checked, so a layout's CDR obeys
the same contract as a dedicated parser's:
- times: start is required; the end is its column or start + duration; duration is its column
  or end - start; an end (or answer) before the start is read again in the repeated autumn hour;
- answered is the layout's rule alone, the switch's verdict (docs/formats.md): an unanswered call
  has no answer time and billable 0 whatever its columns say; an answered one without an answer
  time was answered billable before its end, and without billable talked answer → end;
- native_id is its column(s), else call_id + a digest of the row's bytes + its offset (stable
  across re-reads, distinct for forked legs, as asterisk_csv does), so cdr_id = uuid5(source,
  native_id) deduplicates a re-read file; call_id defaults to native_id.
A row that does not fit — a column count other than the file's, a value its field cannot read, an
answered call with a non-answer cause — is a RecordError: a dead letter with the reason.
"""
from __future__ import annotations

import re
from hashlib import blake2b
from typing import Any
from zoneinfo import ZoneInfo

from cdrflow.infra.config import Settings

from .cdr_record import checked, new_record
from .layout_spec import (CHOICE_FIELDS, DURATION_FIELDS, FILLABLE, NUMBER_FIELDS, TIME_FIELDS, Layout, LayoutError,
                          load_layout)
from .layout_times import ISO_PATTERN, TimeFormat, duration_ms
from .parsing import (CDRRecord, CsvLineParser, RecordError, SourceContext, UnreadableFile, check_times, csv_pick,
                      csv_row, lenient_csv_row)

FORMAT_NAME = "layout"
# filled for every row whatever the layout maps
ALWAYS_FILLED = ("call_id", "start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms")
_MAX_CACHED = 10_000


def column_key(name: str) -> str:
    """A column name as matched: case, surrounding spaces and quotes do not matter."""
    return name.strip().strip('"`').strip().lower()


def filled_fields(layout: Layout | None) -> tuple[str, ...]:
    if layout is None:
        return FILLABLE
    return tuple(name for name in FILLABLE if name in layout.fields or name in ALWAYS_FILLED)


class _Reader:
    """How one field's text is got from a row's picked values: the columns' (joined by "/"), a
    constant's, or "" for a null token; then a pattern's group, when the layout gives one."""

    def __init__(self, at: list[int], nulls: frozenset[str], constant: Any = None, pattern: str | None = None):
        self.at, self.nulls, self.constant = at, nulls, constant
        self.regex = re.compile(pattern) if pattern else None
        self.found: dict[str, str] = {}   # pattern results: channels and trunks repeat

    def __call__(self, values: tuple[str, ...]) -> str:
        if self.constant is not None:
            return str(self.constant)
        nulls = self.nulls
        if len(self.at) == 1:
            text = values[self.at[0]].strip()
            text = "" if text in nulls else text
        else:
            text = "/".join(v for i in self.at if (v := values[i].strip()) and v not in nulls)
        if self.regex is None or not text:
            return text
        found = self.found.get(text)
        if found is None:
            m = self.regex.search(text)
            found = "" if m is None else (m.group(1) or "") if self.regex.groups else m.group(0)
            if len(self.found) > _MAX_CACHED:
                self.found.clear()
            self.found[text] = found
        return found


class LayoutFile(CsvLineParser):
    """The rows of one file, read by a layout whose columns are resolved to positions."""

    format_name = FORMAT_NAME

    def __init__(self, layout: Layout, positions: dict[str | int, int], width: tuple[int, int | None],
                 header_line: bytes | None):
        self.layout, self.header_line = layout, header_line
        self.fields = filled_fields(layout)
        self.min_width, self.max_width = width
        self.sep, self.quote = layout.separator, layout.quote
        self.zone = ZoneInfo(layout.timezone) if layout.timezone else None
        self.repairs = 0   # rows read leniently (lenient_quotes)
        read = sorted(set(positions.values()))
        self.columns = tuple(read)
        at = {position: i for i, position in enumerate(read)}
        nulls = frozenset(layout.null)
        self.readers: dict[str, _Reader] = {}
        for name, rule in layout.fields.items():
            self.readers[name] = _Reader([at[positions[c]] for c in rule.columns()], nulls | frozenset(rule.null),
                                         rule.value, rule.pattern)
        self.times = {name: TimeFormat(layout.fields[name].format or ISO_PATTERN, name)
                      for name in TIME_FIELDS if name in layout.fields}
        self.maps = {name: layout.maps[rule.map] for name, rule in layout.fields.items() if rule.map}
        answered = layout.answered
        self.answered_by = answered.when or "column"
        if answered.column is not None:
            self.answered_reader = _Reader([at[positions[answered.column]]], nulls)
            self.answered_values = frozenset(answered.values or ())
        # text, number and choice fields that the record takes as they are read
        self.plain = [name for name in layout.fields
                      if name not in TIME_FIELDS and name not in DURATION_FIELDS
                      and name not in ("native_id", "call_id")]

    def split(self, raw: bytes) -> tuple[int, tuple[str, ...], bool]:
        try:
            n, values = csv_pick(raw, self.columns, self.sep, self.quote)
            return n, values, False
        except RecordError:
            if not self.layout.lenient_quotes:
                raise
        row = lenient_csv_row(raw, self.sep, self.quote)
        n = len(row)
        return n, tuple(row[c] if c < n else "" for c in self.columns), True

    def skip_kind(self, raw: bytes) -> str:
        return "header row" if raw == self.header_line else "not a call record"

    def record(self, split: tuple[int, tuple[str, ...], bool], raw: bytes, offset: int,
               ctx: SourceContext) -> CDRRecord | None:
        n, values, repaired = split
        if raw == self.header_line:
            return None
        if n < self.min_width or (self.max_width is not None and n > self.max_width):
            if repaired:
                raise RecordError(f"ambiguous quotes: read leniently the row gives {n} columns, "
                                  f"expected {self._expected()}")
            raise RecordError(f"expected {self._expected()}, got {n}")
        text = {name: reader(values) for name, reader in self.readers.items()}
        verdict = self.answered_reader(values) if self.answered_by == "column" else ""
        start_ms, answer_ms, end_ms, duration, billable = self._times(text, verdict, ctx)

        call_id = text.get("call_id", "")
        if "native_id" in text:
            native_id = text["native_id"]
            if not native_id:
                raise RecordError("native_id: empty")
        else:
            native_id = f"{call_id}#{blake2b(raw, digest_size=6).hexdigest()}@{offset}"
        record = new_record(ctx, FORMAT_NAME, native_id, offset)
        record["call_id"] = call_id or native_id
        record["start_ms"] = start_ms
        record["answer_ms"] = answer_ms
        record["end_ms"] = end_ms
        record["duration_ms"] = duration
        record["billable_ms"] = billable
        for name in self.plain:
            record[name] = self._typed(name, text[name], record[name])
        pdd = text.get("pdd_ms")
        if pdd:
            record["pdd_ms"] = duration_ms(pdd, self.layout.fields["pdd_ms"].unit or "s", "pdd_ms")
        if repaired:
            self.repairs += 1
        return checked(record)

    def _expected(self) -> str:
        if self.header_line is not None:
            return f"{self.min_width} columns as in the header"
        if self.max_width is None:
            return f"at least {self.min_width} columns"
        if self.max_width == self.min_width:
            return f"{self.min_width} columns as the layout lists"
        return f"{self.min_width}-{self.max_width} columns (layout min_columns-columns)"

    def _time(self, name: str, text: str, tz, start_ms: int | None = None) -> int:
        ms = self.times[name].ms(text, tz)
        if start_ms is not None and ms < start_ms:
            ms = max(ms, self.times[name].ms(text, tz, fold=1))   # the repeated autumn hour
        return ms

    def _times(self, text: dict[str, str], verdict: str, ctx: SourceContext) -> tuple[int, int | None, int, int, int]:
        """(start, answer, end, duration, billable) in ms, answer and billable by the answered rule."""
        tz = self.zone or ctx.timezone
        start = text["start_ms"]
        if not start:
            raise RecordError("start_ms: empty")
        start_ms = self._time("start_ms", start, tz)
        duration = text.get("duration_ms", "")
        fields = self.layout.fields
        duration = duration_ms(duration, fields["duration_ms"].unit or "s", "duration_ms") if duration else None
        end = text.get("end_ms", "")
        if end:
            end_ms = self._time("end_ms", end, tz, start_ms)
            if end_ms < start_ms:
                raise RecordError("end_ms is before start_ms")
        elif duration is not None:
            end_ms = start_ms + duration
        else:
            raise RecordError("no end: end_ms and duration_ms are empty")
        if duration is None:
            duration = end_ms - start_ms
        billable = text.get("billable_ms", "")
        billable = duration_ms(billable, fields["billable_ms"].unit or "s", "billable_ms") if billable else None
        answer = text.get("answer_ms", "")
        answer_ms = self._time("answer_ms", answer, tz, start_ms) if answer else None

        if self.answered_by == "column":
            answered = verdict in self.answered_values
        elif self.answered_by == "answer_time":
            answered = answer_ms is not None
        else:
            answered = bool(billable)
        if not answered:
            return start_ms, None, end_ms, duration, 0
        if answer_ms is None:
            if billable is None:
                raise RecordError("answered, but the row has neither an answer time nor billable time")
            answer_ms = end_ms - billable
            if answer_ms < start_ms:
                raise RecordError(f"billable_ms {billable / 1000:g} s is longer than the call")
        check_times(start_ms, answer_ms, end_ms, "start_ms", "answer_ms", "end_ms")
        return start_ms, answer_ms, end_ms, duration, end_ms - answer_ms if billable is None else billable

    def _typed(self, name: str, text: str, default: Any) -> Any:
        """A text, number or choice field's value from its text (through its map, if any)."""
        mapping = self.maps.get(name)
        if mapping is not None:
            return mapping.get(text, default) if text else default
        if not text:
            return default   # the CDR's: None, "" for the numbers, record_kind "stop"
        if name in NUMBER_FIELDS:
            if not (text.isascii() and text.isdigit()) or len(text) > 3:
                raise RecordError(f"{name}: {text[:20]!r} is not a whole number of at most 3 digits")
            return int(text)
        choices = CHOICE_FIELDS.get(name)
        if choices is not None and text not in choices:
            raise RecordError(f"{name}: {text[:40]!r} is not one of {', '.join(choices)} (map it with maps)")
        return text


class LayoutFormat:
    """Any delimited CDR export, read by a declared layout (--layout FILE.toml, CDRFLOW_LAYOUT)."""

    format_name = FORMAT_NAME

    def __init__(self, layout: Layout | None = None):
        self.layout = layout   # None: Settings.layout, read for every file

    @property
    def fields(self) -> tuple[str, ...]:
        return filled_fields(self.layout)

    def configured(self, settings: Settings) -> "LayoutFormat":
        """This format with the settings' layout loaded and checked now, so a bad layout stops a
        command before any file is read; LayoutError says what is wrong."""
        if settings.layout is None:
            raise LayoutError("format layout needs a layout: --layout FILE.toml (or a shipped layout's name), "
                              "or the setting CDRFLOW_LAYOUT")
        return LayoutFormat(load_layout(settings.layout))

    def for_file(self, first_line: bytes) -> LayoutFile | UnreadableFile:
        try:
            layout = self.layout or self.configured(Settings()).layout
            return layout_file(layout, first_line)
        except (LayoutError, RecordError) as e:
            return UnreadableFile(FORMAT_NAME, str(e))


def layout_file(layout: Layout, first_line: bytes) -> LayoutFile:
    """The parser of one file: the layout's columns resolved against the file's header (its first
    line) or the layout's own column list; RecordError when the header lacks a column."""
    names = [column for rule in layout.fields.values() for column in rule.columns()]
    if layout.answered.column is not None:
        names.append(layout.answered.column)
    if layout.header:
        header_line = first_line.rstrip(b"\r\n")
        try:
            header = csv_row(header_line, layout.separator, layout.quote)
        except RecordError:
            if not layout.lenient_quotes:
                raise RecordError("first line is not its header: it does not split as CSV") from None
            header = lenient_csv_row(header_line, layout.separator, layout.quote)
        known = [column_key(name) for name in header]
        width: tuple[int, int | None] = (len(header), len(header))
    else:
        header_line = None
        known = [column_key(name) for name in layout.columns or ()]
        positional = [c for c in names if isinstance(c, int)]
        lowest = max(positional + [known.index(column_key(c)) + 1 for c in names if isinstance(c, str)])
        width = (layout.min_columns or (len(known) or lowest), len(known) or None)
    at: dict[str, int] = {}
    for i, key in enumerate(known):
        at.setdefault(key, i)
    positions: dict[str | int, int] = {}
    missing = []
    for column in names:
        if isinstance(column, int):
            positions[column] = column - 1
        elif column_key(column) in at:
            positions[column] = at[column_key(column)]
        elif column not in missing:
            missing.append(column)
    if missing:
        raise RecordError(f"header lacks column(s) {', '.join(missing)} named by the layout")
    if layout.header and max(positions.values()) >= width[0]:
        raise RecordError(f"the header has {width[0]} columns; the layout reads column {max(positions.values()) + 1}")
    return LayoutFile(layout, positions, width, header_line)


parse_layout = LayoutFormat()
