"""Test inputs: the copied real samples and generated switch files."""
from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "samples"


def asterisk_line(i: int, answered: bool = True, trunk: str = "TG-VZ-01") -> bytes:
    """One Asterisk cdr_csv (18-column) line; uniqueid i makes every line its own record."""
    start = f"2026-11-20 {10 + i // 360000 % 10:02d}:{i // 6000 % 60:02d}:{i // 100 % 60:02d}"
    answer = start if answered else ""
    billsec = 60 if answered else 0
    disposition = "ANSWERED" if answered else "NO ANSWER"
    return (f'"acct","212555{i % 10000:04d}","+4420{i:08d}","from-internal","""Caller"" <212555{i % 10000:04d}>",'
            f'"SIP/{trunk}-{i:08x}","SIP/TG-BT-01-{i:08x}","Dial","SIP/TG-BT-01/+4420{i:08d}",'
            f'"{start}","{answer}","{start}",{billsec},{billsec},"{disposition}","DOCUMENTATION","1795000000.{i}",""\n').encode()


def write_asterisk_file(path: Path, count: int, first: int = 0) -> int:
    """Writes `count` lines; returns how many of them are answered (every third is not)."""
    with open(path, "ab") as fh:
        fh.writelines(asterisk_line(i, answered=i % 3 != 0) for i in range(first, first + count))
    return sum(1 for i in range(first, first + count) if i % 3 != 0)


def lines_of(data: bytes) -> list[tuple[int, bytes]]:
    """(byte offset, line with its ending) of every line, as the file source feeds a parser."""
    offset, out = 0, []
    for line in data.splitlines(keepends=True):
        out.append((offset, line))
        offset += len(line)
    return out
