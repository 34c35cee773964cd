"""Asterisk CDRs exported from the CDR database → canonical CDRs.

Most Asterisk sites keep their CDRs in MySQL (`asteriskcdrdb.cdr`, written by cdr_mysql or
cdr_adaptive_odbc) and hand them over as a CSV export of that table: `mysql -e`, phpMyAdmin,
FreePBX's "CDR Reports" download, a BI tool. Such a file
- names its columns in a header row, in the table's order (calldate, clid, src, dst, …, linkedid,
  peeraccount, sequence), in the UI's order, or with site columns added (an auto-increment
  AcctId, tenant, trunk, sipcallid …): Asterisk's names are read in any order, other columns are
  ignored unless Settings.asterisk_export_extra_columns maps them to a CDR field;
- or has no header and the table's columns in order (Settings.asterisk_export_columns);
- writes NULL (or \\N) for an empty value;
- has one time, calldate (the start; `start`, `answer`, `end` are read when present): the end is
  calldate + duration, and an ANSWERED call was answered billsec before its end;
- writes dates as YYYY-MM-DD HH:MM:SS, or day-first with slashes (1/9/2017 16:33:01;
  Settings.asterisk_export_date_order), in the switch's local time (Settings.source_timezone);
- quotes as MySQL exporters do, inner quotes not doubled (`""Front Desk" <1115>"`): such a row is
  read leniently (parsing.lenient_csv_row) and counted in `repairs`; a row that still does not
  give the file's column count is ambiguous and goes to dead letters saying so.
A row then means what a Master.csv row means (asterisk_csv.asterisk_cdr): answered by the
disposition, the same causes, trunks and ids.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Mapping, Sequence

from cdrflow.infra.config import Settings

from ._csvfields import pick as _pick
from .asterisk_csv import AsteriskCsvParser, asterisk_cdr, whole_seconds_ms
from .local_time import call_times, local_ms
from .parsing import (CDRRecord, CsvLineParser, RecordError, SourceContext, UnreadableFile, csv_row,
                      lenient_csv_row)

FORMAT_NAME = "asterisk_export"
# The cdr table's columns (Asterisk's CDR variables), and start/answer/end, which
# cdr_adaptive_odbc tables may have instead of calldate.
KNOWN_COLUMNS = frozenset({
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "duration",
    "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "did", "recordingfile", "cnum",
    "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam", "linkedid", "peeraccount", "sequence", "start",
    "answer", "end"})
# the values read, in this order; a column the file lacks is read past its last ("")
READ = ("uniqueid", "calldate", "start", "answer", "end", "duration", "billsec", "disposition", "src", "dst",
        "channel", "dstchannel", "linkedid", "sequence")
# CDR fields a site column may fill (asterisk_export_extra_columns): text the switch knows
EXTRA_TARGETS = frozenset({"ingress_trunk", "egress_trunk", "tenant", "extension", "correlation_id"})
NULLS = frozenset({"NULL", "\\N"})
# the oldest asteriskcdrdb schema a headerless row may come from: calldate … userfield
MIN_HEADERLESS_COLUMNS = 16
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d\d)(?::(\d\d))?", re.ASCII)


def iso_local(text: str, day_first: bool) -> str:
    """An export's date → "YYYY-MM-DD HH:MM:SS" (local_ms's input)."""
    if len(text) == 19 and text[4] == "-":
        return text if text[10] == " " else f"{text[:10]} {text[11:]}"
    m = _SLASHED.fullmatch(text)
    if not m:
        raise RecordError(f"bad date {text[:40]!r}, expected YYYY-MM-DD HH:MM:SS or D/M/YYYY H:MM:SS")
    first, second, year, hour, minute, sec = m.groups()
    day, month = (first, second) if day_first else (second, first)
    try:
        datetime(int(year), int(month), int(day))
    except ValueError:
        order = "day-first" if day_first else "month-first"
        raise RecordError(f"bad date {text[:40]!r} read {order} (asterisk_export_date_order)") from None
    return f"{year}-{int(month):02d}-{int(day):02d} {int(hour):02d}:{minute}:{sec or '00'}"


def column_key(name: str) -> str:
    """A header's column name as the table names it: case, quotes and spaces do not matter."""
    return name.strip().strip('"`').strip().lower()


class ExportLayout:
    """Where each value read sits in an export's rows, from its header or the configured columns."""

    def __init__(self, names: Sequence[str], extra: Mapping[str, str], header: bool):
        keys = [column_key(n) for n in names]
        at: dict[str, int] = {}
        for i, key in enumerate(keys):
            at.setdefault(key, i)
        missing = [n for n in ("uniqueid", "billsec", "disposition") if n not in at]
        if "calldate" not in at and "start" not in at:
            missing.insert(0, "calldate")
        if "duration" not in at and "end" not in at:
            missing.append("duration")
        if missing:
            raise RecordError(f"{'header' if header else 'asterisk_export_columns'} lacks column(s) "
                              f"{', '.join(missing)}")
        bad = sorted(set(extra.values()) - EXTRA_TARGETS)
        if bad:
            raise RecordError(f"asterisk_export_extra_columns maps to {', '.join(bad)}; a site column may fill "
                              f"{', '.join(sorted(EXTRA_TARGETS))}")
        self.width = len(keys)
        self.header = header
        past = 1 << 30
        self.extras = tuple((field, at[column_key(column)]) for column, field in extra.items()
                            if column_key(column) in at)
        self.positions = tuple(at.get(name, past) for name in READ) + tuple(i for _, i in self.extras)

    def fits(self, n: int) -> bool:
        if self.header:
            return n == self.width
        return MIN_HEADERLESS_COLUMNS <= n <= self.width

    def expected(self) -> str:
        return (f"{self.width} columns as in the header" if self.header
                else f"{MIN_HEADERLESS_COLUMNS}-{self.width} columns (asterisk_export_columns)")


class AsteriskExportFile(CsvLineParser):
    """Asterisk CDR database export rows of one file."""

    format_name = FORMAT_NAME
    fields = AsteriskCsvParser.fields

    def __init__(self, layout: ExportLayout, header_line: bytes | None, day_first: bool):
        self.layout, self.header_line, self.day_first = layout, header_line, day_first
        self.repairs = 0   # rows read leniently (MySQL-style inner quotes)

    def split(self, raw: bytes) -> tuple[int, tuple[str, ...], bool]:
        positions = self.layout.positions
        picked = _pick(raw, positions, ",", '"')
        if picked is not None:
            return picked[0], picked[1], False
        row = lenient_csv_row(raw)
        n = len(row)
        return n, tuple(row[c] if c < n else "" for c in positions), True

    def record(self, split: tuple[int, tuple[str, ...], bool], raw: bytes, offset: int,
               ctx: SourceContext) -> CDRRecord | None:
        n, values, repaired = split
        layout = self.layout
        if raw == self.header_line:
            return None
        if not layout.fits(n):
            if repaired:
                raise RecordError(f"ambiguous quotes: read leniently the row gives {n} columns, "
                                  f"expected {layout.expected()}")
            raise RecordError(f"expected {layout.expected()}, got {n}")
        values = tuple("" if v in NULLS else v for v in values)
        (uniqueid, calldate, start, answer, end, duration, billsec, disposition, src, dst, channel, dstchannel,
         linkedid, sequence) = values[:len(READ)]
        if not uniqueid:
            raise RecordError("empty uniqueid")
        day_first, tz = self.day_first, ctx.timezone
        start = start or calldate
        if not start:
            raise RecordError("empty calldate")
        start = iso_local(start, day_first)
        billsec_ms = whole_seconds_ms(billsec, "billsec")
        if end:
            start_ms, answer_ms, end_ms = call_times(start, iso_local(answer, day_first) if answer else "",
                                                     iso_local(end, day_first), tz)
            duration_ms = whole_seconds_ms(duration, "duration") if duration else end_ms - start_ms
        else:
            start_ms = local_ms(start, tz)
            duration_ms = whole_seconds_ms(duration, "duration")
            end_ms = start_ms + duration_ms
            answer_ms = None
            if answer:
                answer_ms = local_ms(iso_local(answer, day_first), tz)
                if not start_ms <= answer_ms <= end_ms:
                    raise RecordError(f"answer {answer!r} is outside calldate + duration")
        record = asterisk_cdr(ctx, FORMAT_NAME, raw, offset, uniqueid, start_ms, answer_ms, end_ms, duration_ms,
                              billsec_ms, disposition, src, dst, channel, dstchannel, linkedid, sequence)
        for (field, _), value in zip(layout.extras, values[len(READ):]):
            record[field] = value or None
        if repaired:
            self.repairs += 1
        return record


def _is_header(fields: list[str]) -> bool:
    # two of Asterisk's column names: no data row holds those as values
    return len({column_key(f) for f in fields} & KNOWN_COLUMNS) >= 2


class AsteriskExportParser:
    """Asterisk CDR database exports (asteriskcdrdb, FreePBX CDR Reports): header or not, NULL, calldate."""

    format_name = FORMAT_NAME
    fields = AsteriskCsvParser.fields

    def __init__(self, settings: Settings | None = None):
        self.settings = settings   # None: read for every file

    def for_file(self, first_line: bytes) -> AsteriskExportFile | UnreadableFile:
        settings = self.settings or Settings()
        first = first_line.rstrip(b"\r\n")
        try:
            try:
                fields = csv_row(first)
            except RecordError:
                fields = lenient_csv_row(first)
            if _is_header(fields):
                layout = ExportLayout(fields, settings.asterisk_export_extra_columns, header=True)
                return AsteriskExportFile(layout, first, settings.asterisk_export_date_order == "dmy")
            layout = ExportLayout(settings.asterisk_export_columns, settings.asterisk_export_extra_columns,
                                  header=False)
            return AsteriskExportFile(layout, None, settings.asterisk_export_date_order == "dmy")
        except RecordError as e:
            return UnreadableFile(FORMAT_NAME, str(e))


parse_asterisk_export = AsteriskExportParser()
