"""What every format parser is: a pure function from one source record (bytes) to a CDR.

A parser never talks to Kafka or the file system; the file source feeds it lines with their byte
offsets and routes a RecordError to the dead-letter topic with the reason and position.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from cdrflow.schemas.cdr import CDR


class RecordError(ValueError):
    """The record cannot become a CDR; str(error) is the reason shown to the user."""


@dataclass(frozen=True)
class SourceContext:
    source: str                 # switch/SBC id, part of every cdr_id
    source_file: str            # reported in CDR.source_file and dead letters
    timezone: ZoneInfo          # zone of switch-local timestamps


class LineParser(Protocol):
    format_name: str

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDR | None:
        """A CDR, None for a line that carries no record (blank, header), or raise RecordError."""
