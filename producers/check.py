"""`cdrflow check`: what a user needs to know about CDR files before trusting the pipeline with them.

The files are read exactly as `ingest` reads them — the same FileSource (or DbfSource), parse
path and dead-letter reasons — but nothing is published and no checkpoint is kept: the source's
publisher is a Tally that counts what it is handed. Then each file is read once more to name
what the parser skipped (lines that gave neither a CDR nor a dead letter) and to turn dead
letters' byte offsets into line numbers.

Counts over calls (answered, billable, egress trunks) leave out interim records (record_kind
"start": Ribbon/Acme START, AudioCodes CALL_CONNECT), whose call also has its stop record, as
ClickHouse's views do; `records` counts every CDR.
"""
from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from cdrflow.schemas.cdr import CDR
from cdrflow.schemas.envelope import DeadLetter

from .checkpoint import CheckpointStore
from .dbf_source import DbfSource
from .file_source import FileSource
from .parsing import FileParser, GroupingParser, LineParser, RecordParser

FIRST_LINES = 5   # line numbers shown per dead-letter reason
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def reason_kind(reason: str) -> str:
    """A dead letter's reason with its quoted values elided, so one fault is one entry."""
    return _QUOTED.sub("'…'", reason)


@dataclass
class Tally:
    """The publisher of a check: counts the CDRs and keeps the dead letters it is handed."""

    retention_cutoff_ms: int
    records: int = 0
    answered: int = 0
    billable_ms: int = 0
    first_start_ms: int | None = None
    last_start_ms: int | None = None
    outside_retention: int = 0
    filled: Counter = field(default_factory=Counter)
    seizures: Counter = field(default_factory=Counter)
    trunk_answered: Counter = field(default_factory=Counter)
    offsets: dict[str, set[int]] = field(default_factory=dict)   # source_file → offsets that gave a CDR
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def send_cdrs(self, source: str, cdrs: list[dict[str, Any]]) -> None:
        for cdr in cdrs:
            self.records += 1
            start = cdr["start_ms"]
            self.first_start_ms = start if self.first_start_ms is None else min(self.first_start_ms, start)
            self.last_start_ms = start if self.last_start_ms is None else max(self.last_start_ms, start)
            self.outside_retention += start < self.retention_cutoff_ms
            self.filled.update(name for name, value in cdr.items() if value is not None and value != "")
            self.offsets.setdefault(cdr["source_file"], set()).add(cdr["source_offset"])
            if cdr["record_kind"] == "start":
                continue
            answered = cdr["answer_ms"] is not None
            self.answered += answered
            self.billable_ms += cdr["billable_ms"] if answered else 0
            trunk = cdr["egress_trunk"]
            if trunk:
                self.seizures[trunk] += 1
                self.trunk_answered[trunk] += answered

    def send_dead_letter(self, letter: DeadLetter) -> None:
        self.dead_letters.append(letter)

    def flush(self, timeout_s: float = 0.0) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class CheckReport:
    files: int = 0
    lines: int = 0
    records: int = 0
    dead_letters: int = 0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)
    dead_letter_lines: dict[str, list[str]] = field(default_factory=dict)   # reason → first "file:line"s
    skipped: dict[str, int] = field(default_factory=dict)
    repairs: int = 0
    answered: int = 0
    billable_s: float = 0
    first_start: str | None = None
    last_start: str | None = None
    outside_retention: int = 0
    fields_filled: dict[str, float] = field(default_factory=dict)
    egress_trunks: dict[str, dict[str, int]] = field(default_factory=dict)

    JSON_KEYS = ("records", "dead_letters", "skipped", "answered", "billable_s", "first_start", "last_start",
                 "outside_retention", "fields_filled", "egress_trunks", "dead_letter_reasons")

    def as_json(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.JSON_KEYS}


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    return moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds").replace("+00:00", "Z")


def _line_starts(data: bytes) -> list[int]:
    starts, at = [0], data.find(b"\n")
    while at >= 0:
        starts.append(at + 1)
        at = data.find(b"\n", at + 1)
    return starts


def _skip_kind(per_file: Any, raw: bytes, first: bool, file_format: bool) -> str:
    """What a line that gave neither a CDR nor a dead letter is: the parser's word for it when it
    has one (skip_kind), else what the format's shape tells."""
    kind_of = getattr(per_file, "skip_kind", None)
    if kind_of is not None:
        return kind_of(raw)
    if first and file_format:
        return "header row"
    if isinstance(per_file, GroupingParser):
        return "row grouped into another row's call"
    return "not a call record"


def check_files(paths: list[Path], parser: LineParser | FileParser | RecordParser, retention_days: int,
                tz: ZoneInfo, pattern: str = "*", now_ms: int | None = None) -> CheckReport:
    """Reads `paths` as `ingest` does, publishing nothing, and reports what it found."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    tally = Tally(retention_cutoff_ms=now_ms - retention_days * 86_400_000)
    common = dict(source="check", paths=paths, parser=parser, publisher=tally, checkpoints=CheckpointStore(None),
                  timezone=tz, pattern=pattern)
    source = DbfSource(**common) if isinstance(parser, RecordParser) else FileSource(**common)
    stats = source.run(follow=False)
    report = CheckReport(lines=stats.lines, records=tally.records, dead_letters=len(tally.dead_letters),
                         answered=tally.answered, outside_retention=tally.outside_retention,
                         first_start=_iso(tally.first_start_ms), last_start=_iso(tally.last_start_ms))
    billable_s = tally.billable_ms / 1000
    report.billable_s = int(billable_s) if billable_s.is_integer() else billable_s
    if tally.records:
        report.fields_filled = {name: round(tally.filled[name] / tally.records, 4) for name in CDR.model_fields}
    report.egress_trunks = {trunk: {"seizures": n, "answered": tally.trunk_answered[trunk]}
                            for trunk, n in sorted(tally.seizures.items())}

    failed: dict[str, set[int]] = {}
    reasons: Counter = Counter()
    for letter in tally.dead_letters:
        kind = reason_kind(letter.reason)
        reasons[kind] += 1
        file, _, offset = letter.position.rpartition(":")
        if offset.isdigit():
            failed.setdefault(file, set()).add(int(offset))
    report.dead_letter_reasons = dict(reasons.most_common())

    skipped: Counter = Counter()
    first_lines: dict[str, list[str]] = {}
    file_parsers = source.file_parsers() if isinstance(source, FileSource) else {}
    seen = set()
    for letter in tally.dead_letters:
        seen.add(letter.position.rpartition(":")[0])
    files = {str(p) for p in file_parsers} | set(tally.offsets) | seen
    report.files = len(files)
    for name in sorted(files):
        path = Path(name)
        if isinstance(parser, RecordParser) or not path.is_file():
            continue
        data = path.read_bytes()
        starts = _line_starts(data)
        for letter in tally.dead_letters:
            file, _, offset = letter.position.rpartition(":")
            if file == name and offset.isdigit():
                lines = first_lines.setdefault(reason_kind(letter.reason), [])
                if len(lines) < FIRST_LINES:
                    lines.append(f"{path.name}:{bisect_right(starts, int(offset))}")
        gave = tally.offsets.get(name, set()) | failed.get(name, set())
        per_file = file_parsers.get(path, parser)
        for start, end in zip(starts, starts[1:] + [len(data)]):
            raw = data[start:end].rstrip(b"\r\n")
            if start in gave or not raw.strip():
                continue
            skipped[_skip_kind(per_file, raw, start == 0, isinstance(parser, FileParser))] += 1
        report.repairs += getattr(per_file, "repairs", 0)
    report.dead_letter_lines = first_lines
    report.skipped = dict(skipped.most_common())
    return report
