"""Asterisk cdr_custom files → canonical CDRs: CSV rows whose column order comes from config.

cdr_custom writes, per CDR, the variables its cdr_custom.conf mapping names, in that order and
without a header: a legacy [mappings] line (`${CSV_QUOTE(${CDR(src)})},…,${CDR(sequence)}`) or
an advanced mapping's `fields` list. Settings.asterisk_custom_columns lists those variables in
order (default: the Master.csv mapping of Asterisk's cdr_custom.conf.sample), and
asterisk_custom_separator / asterisk_custom_quote an advanced mapping's separator_character and
quote_character (default "," and '"'; a doubled quote character stands for one). As in Asterisk,
names are case-insensitive; the quote / noquote / uservar qualifiers ("uniqueid(noquote)") do not
change a value and are ignored, and the `f` qualifier of duration and billsec (decimal seconds,
"65.250000") is read to the millisecond. A quoted literal ("Some Literal") and a variable not
read here are columns skipped. Times must have Asterisk's default format, "%Y-%m-%d %T": a
layout asking for another (start(int64), answer(%FT%T%z) …) is refused, every line says why.

Read: uniqueid, start, answer, end and billsec (required), and duration (else end - start), src,
dst, channel, dstchannel, disposition, linkedid, sequence when the layout has them. A row then
means what a cdr_csv row means (asterisk_csv.asterisk_record): the same causes, trunks and ids.
"""
from __future__ import annotations

from functools import partial
from operator import itemgetter
from typing import Sequence

from cdrflow.infra.config import Settings

from .asterisk_csv import READ, AsteriskCsvParser, asterisk_record, whole_seconds_ms
from .parsing import CDRRecord, CsvLineParser, RecordError, SourceContext, UnreadableFile, csv_row, whole_number

FORMAT_NAME = "asterisk_custom"
REQUIRED = ("uniqueid", "start", "answer", "end", "billsec")
VALUE_QUALIFIERS = frozenset({"quote", "noquote", "uservar"})
SECONDS_QUALIFIERS = frozenset({"f"})   # CDR(billsec,f): "%.6f" seconds
_MICRO_DIGITS = 6
_PAST_LAST = ("", None)


def column_name(entry: str) -> str | None:
    """A configured column → the CDR variable it holds (lower case), None for a literal."""
    entry = entry.strip()
    if entry.startswith('"'):
        return None
    name, paren, qualifiers = entry.partition("(")
    name = name.strip().lower()
    if paren:
        tags = {tag.strip().lower() for tag in qualifiers.rstrip(") ").split("^")}
        allowed = VALUE_QUALIFIERS | (SECONDS_QUALIFIERS if name in ("duration", "billsec") else frozenset())
        if name in READ and not tags <= allowed:
            raise RecordError(f"column {entry!r}: only Asterisk's default format of {name} is read")
    return name


def seconds_ms(text: str, column: str) -> int:
    """Whole seconds ("65") or CDR()'s `f` decimal seconds ("65.250000") → ms (sub-ms dropped)."""
    if "." not in text:
        return whole_seconds_ms(text, column)
    whole, dot, fraction = text.partition(".")
    if dot and not (fraction.isascii() and fraction.isdigit() and len(fraction) <= _MICRO_DIGITS):
        raise RecordError(f"{column} must be whole or decimal seconds, got {text[:20]!r}")
    return whole_number(whole, column, "seconds") * 1000 + int(fraction[:3].ljust(3, "0") if dot else 0)


class CustomLayout:
    """Where each value read sits in a row of the configured layout."""

    def __init__(self, columns: Sequence[str]):
        names = [column_name(entry) for entry in columns]
        self.width = len(names)
        at: dict[str | None, int] = {}     # None: the literals
        for i, name in enumerate(names):
            at.setdefault(name, i)   # Asterisk writes a variable named twice twice, the same
        missing = [name for name in REQUIRED if name not in at]
        if missing:
            raise RecordError(f"asterisk_custom_columns lacks {', '.join(missing)}")
        # a value the layout lacks is read past the row's last column: "", or None for duration
        # (end - start, see asterisk_record)
        self.pick = itemgetter(*(at.get(name, self.width + (name == "duration")) for name in READ))


class AsteriskCustomFile(CsvLineParser):
    """Asterisk cdr_custom rows of one file, in the configured column order and separators."""

    format_name = FORMAT_NAME
    fields = AsteriskCsvParser.fields

    def __init__(self, layout: CustomLayout, separator: str = ",", quote: str = '"'):
        self.layout = layout
        if (separator, quote) != (",", '"'):
            self.split = partial(csv_row, delimiter=separator, quotechar=quote)

    def record(self, row: list[str | None], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord:
        layout = self.layout
        if len(row) != layout.width:
            raise RecordError(f"expected {layout.width} columns as in asterisk_custom_columns, got {len(row)}")
        row += _PAST_LAST
        return asterisk_record(ctx, FORMAT_NAME, raw, offset, layout.pick(row), seconds_ms)


class AsteriskCustomParser:
    """Asterisk cdr_custom CSV, no header, column order and separators from Settings.asterisk_custom_*."""

    format_name = FORMAT_NAME
    fields = AsteriskCsvParser.fields

    def __init__(self, columns: Sequence[str] | None = None, separator: str | None = None, quote: str | None = None):
        # None: the setting, read for every file
        self.columns, self.separator, self.quote = columns, separator, quote

    def for_file(self, first_line: bytes) -> AsteriskCustomFile | UnreadableFile:
        columns, separator, quote = self.columns, self.separator, self.quote
        if columns is None or separator is None or quote is None:
            settings = Settings()
            columns = settings.asterisk_custom_columns if columns is None else columns
            separator = settings.asterisk_custom_separator if separator is None else separator
            quote = settings.asterisk_custom_quote if quote is None else quote
        try:
            return AsteriskCustomFile(CustomLayout(columns), separator, quote)
        except RecordError as e:
            return UnreadableFile(FORMAT_NAME, str(e))


parse_asterisk_custom = AsteriskCustomParser()
