"""dBase III tables written byte by byte (not with the library the source reads them with), the
way a call-accounting tool appends to its table and fills fields in later: the tests' tables and
the bench's (cdrflow/bench/pipeline.py parse stage of wintariff_dbf).

Layout: a 32-byte header (version 3, last update YY MM DD, record count, header length, record
length, language driver at byte 29), 32 bytes per field (name, type, length, decimals), 0x0D;
then fixed-length records, each a flag byte (" " live, "*" deleted) and the fields as text.
"""
from __future__ import annotations

import struct
from datetime import date
from pathlib import Path

# the WinTariff-style call table of tests/test_wintariff_dbf.py and the bench
FIELDS = (("DATE", "D", 8, 0), ("TIME", "C", 8, 0), ("CALLERID", "C", 20, 0), ("EXTENSION", "C", 6, 0),
          ("NUMBER", "C", 24, 0), ("IDURATION", "N", 6, 0), ("CALLTYPE", "C", 16, 0), ("LINE", "C", 4, 0))
CP866 = 0x65   # language driver "Russian MS-DOS": dbfread decodes text as cp866


def header_length(fields=FIELDS) -> int:
    return 32 + 32 * len(fields) + 1


def record_length(fields=FIELDS) -> int:
    return 1 + sum(length for _, _, length, _ in fields)


def header(count: int, fields=FIELDS, driver: int = CP866) -> bytes:
    head = struct.pack("<BBBBIHH", 3, 124, 3, 1, count, header_length(fields), record_length(fields))
    head += bytes(17) + bytes([driver]) + bytes(2)
    for name, kind, length, decimals in fields:
        head += name.encode().ljust(11, b"\0") + kind.encode() + bytes(4) + bytes([length, decimals]) + bytes(14)
    return head + b"\r"


def field_bytes(kind: str, length: int, value) -> bytes:
    if value is None:
        return b" " * length
    if kind == "D" and isinstance(value, date):
        value = value.strftime("%Y%m%d")
    text = str(value).encode("cp866", "replace")
    return text.rjust(length) if kind == "N" else text.ljust(length)


def record(row: dict, fields=FIELDS, deleted: bool = False) -> bytes:
    data = b"*" if deleted else b" "
    for name, kind, length, _ in fields:
        data += field_bytes(kind, length, row.get(name))[:length]
    return data


def write_table(path: Path, rows: list[dict], fields=FIELDS, deleted: frozenset[int] = frozenset()) -> None:
    path.write_bytes(header(len(rows), fields)
                     + b"".join(record(row, fields, i in deleted) for i, row in enumerate(rows)) + b"\x1a")


def append_rows(path: Path, rows: list[dict], fields=FIELDS) -> None:
    """Appends records before the end-of-file mark, then counts them in the header (the order
    writers use: a reader never counts a record whose bytes are not there)."""
    with open(path, "r+b") as fh:
        count = struct.unpack("<I", fh.read(8)[4:8])[0]
        fh.seek(header_length(fields) + count * record_length(fields))
        fh.write(b"".join(record(row, fields) for row in rows) + b"\x1a")
        fh.seek(4)
        fh.write(struct.pack("<I", count + len(rows)))


def set_field(path: Path, recno: int, name: str, value, fields=FIELDS) -> None:
    """Fills one field of a record in place, as the tool does seconds after writing the row."""
    position = 1
    for field_name, kind, length, _ in fields:
        if field_name == name:
            with open(path, "r+b") as fh:
                fh.seek(header_length(fields) + recno * record_length(fields) + position)
                fh.write(field_bytes(kind, length, value))
            return
        position += length
    raise KeyError(name)
