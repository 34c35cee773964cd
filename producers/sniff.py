"""`--format auto`: which format a set of CDR files is in, from the first lines of the first file,
with the reason, or a refusal when the lines do not say it clearly. Only shapes that no other
format writes are recognised; anything else must be named with --format."""
from __future__ import annotations

import re
from pathlib import Path

from .asterisk_csv import DISPOSITION_Q850
from .asterisk_export import KNOWN_COLUMNS, column_key
from .cisco_cucm import RELEASE_WIDTHS
from .parsing import RecordError, csv_row, lenient_csv_row

SNIFF_LINES = 5
_ISO = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
_SLASHED = re.compile(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d(:\d\d)?")
_AUDIOCODES = re.compile(rb"\|\s*(SBCReportType|CALL_START|CALL_CONNECT|CALL_END|MEDIA_START|MEDIA_UPDATE|MEDIA_END|"
                         rb"MediaReportType)\s*\|")
_KAMAILIO_HEADER = {"method", "from_tag", "to_tag", "callid", "sip_code"}


class UnsureFormat(ValueError):
    """The files' format cannot be told; str() says what was seen."""


def _first_file(paths: list[Path], pattern: str) -> Path:
    for path in paths:
        if path.is_file():
            return path
        if path.is_dir():
            files = sorted((p for p in path.glob(pattern) if p.is_file() and p.stat().st_size),
                           key=lambda p: (p.stat().st_mtime, p.name))
            if files:
                return files[0]
    raise UnsureFormat("no file to look at")


def _row(line: bytes) -> list[str]:
    try:
        return csv_row(line)
    except RecordError:
        return lenient_csv_row(line)


def sniff_lines(lines: list[bytes]) -> tuple[str, str]:
    """(format, why) from a file's first nonblank lines (without their endings), or UnsureFormat."""
    if not lines:
        raise UnsureFormat("the file is empty")
    first = lines[0]
    if any(_AUDIOCODES.search(line) for line in lines):
        return "audiocodes_syslog", "'|'-separated AudioCodes report lines (CALL_END, SBCReportType …)"
    if first.lstrip().startswith(b"{"):
        return "freeswitch_json", "the file starts with a JSON object"
    if b"cdrRecordType" in first:
        return "cisco_cucm", "the header row names cdrRecordType"
    try:
        row = _row(first)
    except RecordError as e:
        raise UnsureFormat(f"the first line does not split as CSV ({e})") from None
    keys = {column_key(f) for f in row}
    if len(keys & KNOWN_COLUMNS) >= 2:
        named = ", ".join(sorted(keys & KNOWN_COLUMNS)[:4])
        return "asterisk_export", f"a header row naming Asterisk CDR columns ({named} …)"
    if _KAMAILIO_HEADER <= keys:
        return "kamailio_acc", "a header row naming Kamailio acc columns (method, callid, sip_code …)"
    n = len(row)
    if row[0] == "1" and n in RELEASE_WIDTHS:
        return "cisco_cucm", f"no header, cdrRecordType 1 and {n} columns (CUCM {RELEASE_WIDTHS[n]})"
    if 18 <= n <= 21 and _ISO.fullmatch(row[9]) and row[14] in DISPOSITION_Q850:
        return "asterisk_csv", f"{n} columns, start in column 10 and disposition {row[14]!r} in column 15 (Master.csv)"
    if 16 <= n <= 26 and (_ISO.fullmatch(row[0]) or _SLASHED.fullmatch(row[0])) and row[11] in DISPOSITION_Q850:
        return "asterisk_export", (f"no header, {n} columns, calldate first and disposition {row[11]!r} in "
                                   "column 12 (asteriskcdrdb table order)")
    raise UnsureFormat(f"the first line ({n} columns, starting {first[:60]!r}) fits no format's telltale shape")


def sniff_format(paths: list[Path], pattern: str = "*") -> tuple[str, str]:
    """(format, why) of the files `ingest` would read first, or UnsureFormat."""
    path = _first_file(paths, pattern)
    lines: list[bytes] = []
    with open(path, "rb") as fh:
        for line in fh:
            line = line.rstrip(b"\r\n")
            if line.strip():
                lines.append(line)
            if len(lines) == SNIFF_LINES:
                break
    fmt, why = sniff_lines(lines)
    return fmt, f"{path.name}: {why}"
