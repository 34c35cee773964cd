"""What every format parser is: a pure function from one source record (bytes) to a CDR, the
plain wire dict cdr_record.py builds (CDR.model_dump()'s shape; no model per record, see there).

A parser never talks to Kafka or the file system; the file source feeds it lines with their byte
offsets and routes a RecordError to the dead-letter topic with the reason and position. It hands
over a chunk's lines at once (parse_lines): a CSV format (CsvLineParser) splits them in one pass
with the compiled split (_csvfields.c, the strict csv reader's rows at C speed) and gives, line
for line, what it gives each line alone — records, and failures with offset and reason.

Two kinds of format need state that lives as long as one file, and get it from a FileParser,
the smallest extension of the line protocol: the registry holds a FileParser, and the file source
calls `for_file(first line of the file)` once per file (also when it resumes mid-file from a
checkpoint, as the first line is re-read) and feeds that file's lines to the LineParser it gets.
- header-defined columns (Cisco CUCM, CSV exports with a header row): the per-file parser reads
  its columns by name from the header;
- record grouping (Kamailio acc: one row per SIP transaction): the per-file parser is a
  GroupingParser that holds rows until their call is complete. It tells the file source the
  offset of the oldest row it still holds, so the checkpoint never passes a call that was not
  published: after a restart those rows are read again and give the same cdr_ids.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable, Iterator, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ._csvfields import fields as _fields, pick as _pick

CDRRecord = dict[str, Any]
"""A canonical CDR on its way to the wire: the keys and value types of schemas/cdr.py CDR."""
Failure = tuple[int, bytes, str]
"""A line that gave no CDR: its offset, its bytes without the line ending, the reason."""


class RecordError(ValueError):
    """The record cannot become a CDR; str(error) is the reason shown to the user."""


@dataclass(frozen=True)
class SourceContext:
    source: str                 # switch/SBC id, part of every cdr_id
    source_file: str            # reported in CDR.source_file and dead letters
    timezone: ZoneInfo          # zone of switch-local timestamps


class LineParser(Protocol):
    # read-only members (properties), so a parser's own tuple of field names fits
    @property
    def format_name(self) -> str: ...

    @property
    def fields(self) -> tuple[str, ...]:
        """The CDR fields this format fills (`cdrflow formats` lists them)."""

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        """A CDR, None for a line that carries no record (blank, header), or raise RecordError."""


@runtime_checkable
class FileParser(Protocol):
    @property
    def format_name(self) -> str: ...

    @property
    def fields(self) -> tuple[str, ...]: ...

    def for_file(self, first_line: bytes) -> LineParser:
        """The parser for one file, given the file's first line (its header, if it has one)."""


@runtime_checkable
class RecordParser(Protocol):
    """A format of record-oriented files (DBF tables, read by dbf_source.py rather than by lines):
    a record is a dict of named field values, its position the record number."""

    @property
    def format_name(self) -> str: ...

    @property
    def fields(self) -> tuple[str, ...]: ...

    def settled(self, record: dict[str, Any]) -> bool:
        """False while the writer is still expected to fill the record in (it is read again)."""

    def __call__(self, record: dict[str, Any], recno: int, ctx: SourceContext) -> CDRRecord | None:
        """A CDR, None for a record that is no call, or raise RecordError."""


@runtime_checkable
class GroupingParser(Protocol):
    """A per-file LineParser that returns None for rows it holds until their call completes."""

    def held_from(self) -> int | None:
        """Byte offset of the oldest row held back, None when nothing is held."""

    def drain(self, final: bool) -> list[CDRRecord]:
        """Calls given up on: those open too long, or every open call when final (end of input)."""


def record_error(exc: Exception) -> RecordError:
    """Any failure inside a parser as the RecordError the file source routes to dead letters."""
    if isinstance(exc, RecordError):
        return exc
    return RecordError(f"cannot parse line: {type(exc).__name__}: {exc}")


def parse_line(parse: Callable[[bytes, int, SourceContext], CDRRecord | None], line: bytes, offset: int,
               ctx: SourceContext) -> CDRRecord | None:
    """parse(line without its ending, offset, ctx) for a LineParser: None for a blank line, and
    any failure as a RecordError — the file source relies on a record/None/RecordError and nothing else."""
    try:
        raw = line.rstrip(b"\r\n")
        if not raw or raw.isspace():
            return None
        return parse(raw, offset, ctx)
    except Exception as e:
        raise record_error(e) from None


def parse_lines(parser: LineParser, lines: list[bytes], offset: int,
                ctx: SourceContext) -> tuple[list[CDRRecord], list[Failure]]:
    """The CDRs and the failures of consecutive lines (with their endings) from `offset` on,
    exactly as parser(line, …) line by line gives them; the one way sources and the bench parse.
    A parser with its own parse_lines (the CSV formats, see CsvLineParser) does it in one pass."""
    batch = getattr(parser, "parse_lines", None)
    if batch is not None:
        return batch(lines, offset, ctx)
    cdrs, failed = [], []
    for line in lines:
        try:
            cdr = parser(line, offset, ctx)
            if cdr is not None:
                cdrs.append(cdr)
        except RecordError as e:
            failed.append((offset, line.rstrip(b"\r\n"), str(e)))
        offset += len(line)
    return cdrs, failed


# durations, causes and codes are mostly small: one dict lookup instead of three checks and int()
_SMALL_NUMBERS = {str(n): n for n in range(10_000)}


def whole_number(text: str, column: str, unit: str, max_digits: int = 10) -> int:
    # str.isdigit alone admits "²" and int() admits " 1", "+1", "1_0"; switches write plain digits.
    # max_digits keeps ms inside Int64 (and orjson); int() of huge strings is slow.
    small = _SMALL_NUMBERS.get(text)
    if small is not None and len(text) <= max_digits:
        return small
    if not (text.isascii() and text.isdigit()) or len(text) > max_digits:
        raise RecordError(f"{column} must be a whole number of {unit}, got {text[:20]!r}")
    return int(text)


def check_times(start_ms: int, answer_ms: int | None, end_ms: int, start: str, answer: str, end: str) -> None:
    """The order a call's times keep, start ≤ answer ≤ end; a RecordError names the fields."""
    if end_ms < start_ms:
        raise RecordError(f"{end} is before {start}")
    if answer_ms is not None and not start_ms <= answer_ms <= end_ms:
        raise RecordError(f"{answer} is outside {start} .. {end}")


# strict turns a stray quote into an error instead of a silently merged field. Registered by name
# because passing options on every csv.reader() call costs ~1 µs a line.
_CSV_DIALECT = "cdrflow_strict_csv"
csv.register_dialect(_CSV_DIALECT, "excel", strict=True)
_dialects = {(",", '"'): _CSV_DIALECT}


def _dialect(delimiter: str, quotechar: str) -> str:
    name = _dialects.get((delimiter, quotechar))
    if name is None:
        name = _dialects[(delimiter, quotechar)] = f"{_CSV_DIALECT}_{ord(delimiter)}_{ord(quotechar)}"
        csv.register_dialect(name, "excel", strict=True, delimiter=delimiter, quotechar=quotechar)
    return name


def _reader_row(raw: bytes, delimiter: str = ",", quotechar: str = '"') -> list[str]:
    """The strict csv reader's row of one line, the truth _csvfields keeps to; free text may be in
    any 8-bit encoding, so bad UTF-8 is replaced."""
    try:
        return next(csv.reader((raw.decode("utf-8", "replace"),), _dialect(delimiter, quotechar)))
    except (csv.Error, StopIteration) as e:
        # drop Python's "- do you need to open the file in universal-newline mode?" hint
        raise RecordError(f"bad CSV: {str(e).split(' - ')[0]}") from None


def csv_row(raw: bytes, delimiter: str = ",", quotechar: str = '"') -> list[str]:
    """One CSV line (without its ending) → its fields. The compiled split (_csvfields.c, ~40×
    faster) reads every line the strict reader reads without complaint, and gives it back to the
    reader otherwise, so a refused line's reason is the reader's."""
    row = _fields(raw, delimiter, quotechar)
    return _reader_row(raw, delimiter, quotechar) if row is None else row


def lenient_csv_row(raw: bytes, delimiter: str = ",", quotechar: str = '"') -> list[str]:
    """The fields of a line the strict reader refuses because a quoted field holds quotes that are
    not doubled, as MySQL exporters write them: `""Front Desk" <1115>"`. A quote closes its field
    only before the delimiter or the line's end; a doubled quote is one quote; any other quote
    (a backslash before it dropped, MySQL's escape) is part of the value. A caller checks the
    field count: a value holding quote + delimiter splits into too many fields, which stays
    ambiguous. Slow (Python), for the few lines csv_pick refused."""
    text = raw.decode("utf-8", "replace")
    fields: list[str] = []
    i, n = 0, len(text)
    while True:
        if text.startswith(quotechar, i):
            parts, j = [], i + 1
            while True:
                k = text.find(quotechar, j)
                if k < 0:
                    raise RecordError("bad CSV: a quoted field is never closed")
                after = text[k + 1:k + 2]
                if after in ("", delimiter):
                    parts.append(text[j:k])
                    i = k + 1
                    break
                if after == quotechar:
                    parts.append(text[j:k + 1])
                    j = k + 2
                else:
                    parts.append(text[j:k - 1] + quotechar if text[k - 1:k] == "\\" and k > j else text[j:k + 1])
                    j = k + 1
            fields.append("".join(parts))
            if i >= n:
                return fields
            i += 1
        else:
            k = text.find(delimiter, i)
            if k < 0:
                fields.append(text[i:])
                return fields
            fields.append(text[i:k])
            i = k + 1


# a column past any line's last, where csv_pick gives "": a layout's stand-in for a column it lacks
PAST_ANY_LINE = 1 << 30


def csv_pick(raw: bytes, columns: tuple[int, ...], delimiter: str = ",",
             quotechar: str = '"') -> tuple[int, tuple[str, ...]]:
    """(number of fields, the fields at `columns`, "" past the last) of csv_row(raw), making str
    of only the columns read: CUCM writes 133 columns and a parser reads 14."""
    picked = _pick(raw, columns, delimiter, quotechar)
    if picked is None:
        row = _reader_row(raw, delimiter, quotechar)
        n = len(row)
        picked = n, tuple(row[c] if c < n else "" for c in columns)
    return picked


def column_split(columns: tuple[int, ...]) -> Callable[[bytes], tuple[int, tuple[str, ...]]]:
    """The split of a CsvLineParser that reads fixed columns: a line → csv_pick(line, columns)."""
    def split(raw: bytes) -> tuple[int, tuple[str, ...]]:
        return csv_pick(raw, columns)
    return split


def csv_rows(lines: list[bytes], offset: int, failed: list[Failure],
             split: Callable[[bytes], Any] = csv_row) -> Iterator[tuple[int, bytes, Any]]:
    """(offset, line without its ending, split of it) of each nonblank line; a line split refuses
    (RecordError) goes to `failed` instead."""
    for line in lines:
        raw = line.rstrip(b"\r\n")
        if raw and not raw.isspace():
            try:
                row = split(raw)
            except RecordError as e:
                failed.append((offset, raw, str(e)))
            else:
                yield offset, raw, row
        offset += len(line)


def pick_plan(layouts: dict[Any, tuple[int, ...]],
              always: tuple[int, ...] = (0,)) -> tuple[tuple[int, ...], dict[Any, Callable]]:
    """For positional CSV formats with several layouts (by record type, by release): the columns
    any layout reads (and `always`), for one csv_pick a line, and per layout a getter of its
    columns' values from what csv_pick gave."""
    columns = tuple(sorted(set(always).union(*layouts.values())))
    at = {column: i for i, column in enumerate(columns)}
    return columns, {key: itemgetter(*(at[c] for c in read)) for key, read in layouts.items()}


class CsvLineParser:
    """A LineParser of CSV lines: a subclass gives `record` (a line's split → CDR, None or
    RecordError); the file source calls parse_lines with a chunk's lines (see csv_rows). split is
    csv_row, or a subclass's pick of the columns it reads (column_split, Columns.split)."""

    format_name: str
    fields: tuple[str, ...]
    record: Callable[[Any, bytes, int, SourceContext], CDRRecord | None]
    split: Callable[[bytes], Any] = staticmethod(csv_row)

    def _parse(self, raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        return self.record(self.split(raw), raw, offset, ctx)

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        return parse_line(self._parse, line, offset, ctx)

    def parse_lines(self, lines: list[bytes], offset: int, ctx: SourceContext) -> tuple[list[CDRRecord], list[Failure]]:
        cdrs: list[CDRRecord] = []
        failed: list[Failure] = []
        record, add = self.record, cdrs.append
        for position, raw, row in csv_rows(lines, offset, failed, self.split):
            try:
                cdr = record(row, raw, position, ctx)
            except Exception as e:
                failed.append((position, raw, str(record_error(e))))
                continue
            if cdr is not None:
                add(cdr)
        return cdrs, failed


class Columns:
    """Column positions named by a CSV header row, for formats whose header defines the layout.

    split gives a line's required and optional columns, in that order ("" for an optional one the
    header lacks), not all of them: CUCM writes 133 columns and reads 14."""

    def __init__(self, header: bytes, required: tuple[str, ...], optional: tuple[str, ...] = (),
                 origin: str = "the header"):
        self.header_line = header.rstrip(b"\r\n")
        self.origin = origin   # where the columns come from, for the reason of a row that differs
        names = csv_row(self.header_line)
        self.width = len(names)
        index = {name: i for i, name in enumerate(names)}   # a repeated name: its last column
        missing = [name for name in required if name not in index]
        if missing:
            raise RecordError(f"header lacks column(s) {', '.join(missing)}")
        self.read = required + optional
        # an optional column the header lacks is read past the last column, where csv_pick gives ""
        self.positions = tuple(index.get(name, self.width) for name in self.read)

    def split(self, raw: bytes) -> tuple[str, ...]:
        """A line → the values read, in `read`'s order."""
        n, values = csv_pick(raw, self.positions)
        if n != self.width:
            raise RecordError(f"expected {self.width} columns as in {self.origin}, got {n}")
        return values

    def named(self, values: tuple[str, ...]) -> dict[str, str]:
        """split's values by column name."""
        return dict(zip(self.read, values))


class UnreadableFile:
    """Per-file parser of a file whose first line does not fit the format: every line says why."""

    def __init__(self, format_name: str, reason: str):
        self.format_name, self.reason = format_name, reason
        self.fields: tuple[str, ...] = ()

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        if not line.strip():
            return None
        raise RecordError(f"file not readable as {self.format_name}: {self.reason}")


class HeaderCsvFormat:
    """A FileParser for CSV files whose first line names the columns; subclasses say which
    columns they need and how one file is parsed once its columns are known."""

    format_name: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def parser_for_columns(self, columns: Columns) -> LineParser:
        raise NotImplementedError

    def for_file(self, first_line: bytes) -> LineParser:
        try:
            return self.parser_for_columns(Columns(first_line, self.required, self.optional))
        except RecordError as e:
            return UnreadableFile(self.format_name, f"first line is not its header ({e})")
