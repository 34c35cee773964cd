"""Legacy PBX call tables that call-accounting tools (WinTariff and the like) keep in DBF → CDRs.

The tool collects the PBX's SMDR output and appends one row per finished call to a single DBF
table; dbf_source.py reads its records and hands each one here as a dict of field values. The
fields read, by name (as the DBF header names them; "seeds" of DOMAIN.md):
  DATE, TIME  when the call started (local time of the PBX: CDRFLOW_SOURCE_TIMEZONE); DATE a
              DBF date or text YYYYMMDD / YYYY-MM-DD / DD.MM.YYYY, TIME "HH:MM:SS" or "HH:MM"
  EXTENSION   the employee's extension the row is about
  CALLERID    the other party's number (the caller ID of a call from outside; on an internal call
              the other extension)
  NUMBER      the dialled number of an outgoing call; contains "internal" on an internal call
  IDURATION   talk time in whole seconds; 0 = not answered
  CALLTYPE    the tool's category of the call, filled in seconds *after* the row appears:
              "incoming" / "in", "internal" (or the Russian words), or any other word (the
              destination categories the tool rates outgoing calls by: local, mobile, long
              distance, …) = outgoing
  LINE        optional: the PBX line (CO trunk) the call used
A row whose CALLTYPE is still empty is not settled: the source reads it again until it is, and
after a configurable time (or at the end of a one-shot run) gives up and publishes it with what
it has — then the direction comes from NUMBER alone: a dialled number makes it outgoing, none
incoming (NUMBER containing "internal" is internal either way).

Internal calls (DOMAIN.md: between two of the tenant's own extensions) are no seizure of any
trunk: they carry no trunk and call_class "internal", which the source knows better than
enrichment's number lookups. The PBX writes no row for a missed internal call, so internal calls
are always answered ones. The table has no answer time, ring time or cause: an answered call is
taken as answered at its start (PDD unknown), an unanswered one ends at its start.

cdr_id comes from the source id, the table's file name and the record number: a table copied or
restored under the same name keeps its ids; a table packed in place (deleted rows removed)
renumbers its rows, which dbf_source.py sees as a rewritten table.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import PurePath
from typing import Any


from .cdr_record import checked, new_record
from .local_time import local_ms
from .parsing import CDRRecord, RecordError, SourceContext, record_error, whole_number

FORMAT_NAME = "wintariff_dbf"
FIELDS = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
          "called_number", "ingress_trunk", "egress_trunk", "extension", "call_class", "call_id")
REQUIRED = ("DATE", "TIME", "CALLERID", "EXTENSION", "NUMBER", "IDURATION")
# WinTariff is Russian software: its tables may say it in Russian (read in the table's code page)
INCOMING = frozenset({"incoming", "in", "входящий", "вх"})
INTERNAL = frozenset({"internal", "внутренний"})
_DATE_FORMS = (re.compile(r"(?P<y>\d{4})-?(?P<m>\d\d)-?(?P<d>\d\d)", re.ASCII),
               re.compile(r"(?P<d>\d\d)\.(?P<m>\d\d)\.(?P<y>\d{4})", re.ASCII))
_TIME = re.compile(r"\d\d:\d\d(:\d\d)?", re.ASCII)
_DIGIT = re.compile(r"\d")


@lru_cache(maxsize=64)
def _file_name(path: str) -> str:
    return PurePath(path).name


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _start_date(value: Any) -> str:
    if isinstance(value, date):
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    text = _text(value)
    for form in _DATE_FORMS:
        if m := form.fullmatch(text):
            return f"{m['y']}-{m['m']}-{m['d']}"
    raise RecordError(f"DATE {text[:20]!r} is no date")


def _seconds(value: Any) -> int:
    # a DBF numeric field comes as int, float or Decimal (N with decimals), a character one as text
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        if value != value or value < 0 or value != int(value) or value >= 10**10:
            raise RecordError(f"IDURATION must be a whole number of seconds, got {value!r}")
        return int(value)
    return whole_number(_text(value), "IDURATION", "seconds")


def _direction(number: str, calltype: str) -> str:
    if "internal" in number.lower() or calltype in INTERNAL:
        return "internal"
    if calltype:
        return "in" if calltype in INCOMING else "out"
    return "out" if _DIGIT.search(number) else "in"   # given up waiting for CALLTYPE


class WinTariffDbfParser:
    """Legacy PBX call table in DBF (WinTariff style), rows re-read until CALLTYPE is filled in."""

    format_name = FORMAT_NAME
    fields = FIELDS

    def settled(self, record: dict[str, Any]) -> bool:
        return "CALLTYPE" not in record or bool(_text(record["CALLTYPE"]))

    def __call__(self, record: dict[str, Any], recno: int, ctx: SourceContext) -> CDRRecord | None:
        try:
            return self._parse(record, recno, ctx)
        except Exception as e:   # the source relies on a record/None/RecordError and nothing else
            raise record_error(e) from None

    def _parse(self, record: dict[str, Any], recno: int, ctx: SourceContext) -> CDRRecord:
        missing = [name for name in REQUIRED if name not in record]
        if missing:
            raise RecordError(f"table lacks field(s) {', '.join(missing)}")
        time_text = _text(record["TIME"])
        if not _TIME.fullmatch(time_text):
            raise RecordError(f"TIME {time_text[:20]!r} is not HH:MM:SS")
        clock = time_text if len(time_text) == 8 else f"{time_text}:00"
        start_ms = local_ms(f"{_start_date(record['DATE'])} {clock}", ctx.timezone)
        talk_ms = _seconds(record["IDURATION"]) * 1000
        extension, caller_id, number = (_text(record[name]) for name in ("EXTENSION", "CALLERID", "NUMBER"))
        direction = _direction(number, _text(record.get("CALLTYPE")).lower())
        line = _text(record.get("LINE")) or None
        if direction == "out":
            calling, called = extension, number
        else:
            calling, called = caller_id, extension
        native_id = f"{_file_name(ctx.source_file)}#{recno}"
        record = new_record(ctx, FORMAT_NAME, native_id, recno)
        record["call_id"] = native_id
        record["start_ms"] = start_ms
        record["answer_ms"] = start_ms if talk_ms else None
        record["end_ms"] = start_ms + talk_ms
        record["duration_ms"] = talk_ms
        record["billable_ms"] = talk_ms
        record["calling_number"] = calling
        record["called_number"] = called
        record["ingress_trunk"] = line if direction == "in" else None
        record["egress_trunk"] = line if direction == "out" else None
        record["extension"] = extension or None
        record["call_class"] = "internal" if direction == "internal" else None
        return checked(record)


parse_wintariff_dbf = WinTariffDbfParser()
