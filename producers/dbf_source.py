"""DBF source: read the call tables legacy PBX call-accounting tools append to, publish, checkpoint.

A DBF table is records of fixed length after a header, not lines, so it has its own source with
the file source's contract (file_source.py): files known by device:inode, checkpoints written only
after the broker acknowledged, a malformed record dead-lettered with its reason and position
("path#record number"). The checkpoint's offset is the number of the first record not yet
published; cdr.source_offset is the record number. dbfread reads the header (field names and
types, the code page from the language driver); records are read by number and decoded with its
field parser, so a poll costs what was appended, not the whole table.

A record is read once the header counts it and its bytes are in the file (writers update the
count after appending). A record the format's parser calls unsettled (RecordParser.settled: a
field the tool fills in seconds later) is held and read again on every poll: the checkpoint stops
at the oldest held record, so after a restart it is read again (and records after it are published
again with the same cdr_ids, which the worker deduplicates). After `settle_after_s`, at the end of
a one-shot run, or when its table disappears, a held record is published with what it has.
A record changed after it was published is not read again. A table with fewer records than the
checkpoint was rewritten (packed, replaced in place) and is read again from its first record.
Deleted records (flag "*") are no calls.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable
from zoneinfo import ZoneInfo

from dbfread import DBF, FieldParser

from .checkpoint import CheckpointStore
from .file_source import SourceStats, open_files, send_dead_letter
from .heartbeat import Heartbeat
from .parsing import RecordError, RecordParser, SourceContext
from .publisher import Publisher

log = logging.getLogger("cdrflow.producers")

CHUNK_RECORDS = 20_000


class DbfTable:
    """A DBF file's header, as dbfread reads it, and its records by number."""

    def __init__(self, path: Path):
        # dbfread reads the header by name and the source its records from its own open file: a
        # table replaced in between shows as one with fewer records, read again from record 0
        try:
            table = DBF(str(path), load=False, ignorecase=False, char_decode_errors="replace")
            self.header_len, self.record_len = table.header.headerlen, table.header.recordlen
            self.numrecords = table.header.numrecords
            self.fields = table.fields
            self._parse = FieldParser(table).parse
        except Exception as e:   # dbfread raises ValueError, struct.error … on a damaged header
            raise RecordError(f"not a readable DBF table: {type(e).__name__}: {e}") from None
        if 1 + sum(f.length for f in self.fields) > self.record_len:
            raise RecordError(f"not a readable DBF table: fields longer than the record length {self.record_len}")

    def count(self, size: int) -> int:
        """Records both counted by the header and complete in a file of this size."""
        return max(0, min(self.numrecords, (size - self.header_len) // self.record_len))

    def read(self, fh: BinaryIO, start: int, stop: int | None = None) -> list[tuple[int, bytes]]:
        """(record number, raw bytes) of records start … stop-1 (just start when stop is None)."""
        stop = start + 1 if stop is None else stop
        fh.seek(self.header_len + start * self.record_len)
        data, size = fh.read((stop - start) * self.record_len), self.record_len
        return [(start + i, data[i * size:(i + 1) * size]) for i in range(stop - start)]

    def decode(self, raw: bytes) -> dict[str, Any] | None:
        """Field name → value; None for a deleted record."""
        flag = raw[:1]
        if flag == b"*":
            return None
        if flag != b" ":
            raise RecordError(f"record flag {flag!r} is neither ' ' (live) nor '*' (deleted)")
        record, position = {}, 1
        for f in self.fields:
            data = raw[position:position + f.length]
            position += f.length
            try:
                record[f.name] = self._parse(f, data)
            except Exception as e:
                raise RecordError(f"field {f.name} ({f.type}) unreadable: {type(e).__name__}: {e}") from None
        return record


@dataclass
class DbfSource:
    source: str
    paths: list[Path]                    # tables, or directories watched with `pattern`
    parser: RecordParser
    publisher: Publisher
    checkpoints: CheckpointStore
    timezone: ZoneInfo
    pattern: str = "*"
    stats: SourceStats = field(default_factory=SourceStats)
    on_progress: Callable[[SourceStats], None] | None = None
    settle_after_s: float = 60.0         # how long an unsettled record is read again before it is published
    unreadable_after_s: float = 30.0     # a header still unreadable this long after the last write is damaged
    clock: Callable[[], float] = time.monotonic
    heartbeat: Heartbeat | None = None   # beaten after each poll the broker acknowledged
    # file id → record number → (first seen unsettled, record as last read); → next record to read
    _held: dict[str, dict[int, tuple[float, dict]]] = field(default_factory=dict, repr=False)
    _read_to: dict[str, int] = field(default_factory=dict, repr=False)
    _paths: dict[str, Path] = field(default_factory=dict, repr=False)
    _told_unreadable: dict[str, int] = field(default_factory=dict, repr=False)   # file id → size told

    def poll(self, final: bool = False) -> int:
        """Reads every table from its checkpoint to its last complete record and reads held
        records again; final gives up on held records. Returns records consumed."""
        consumed, live = 0, set()
        for path, fh, st, file_id in open_files(self.paths, self.pattern):
            live.add(file_id)
            self._paths[file_id] = path
            try:
                table = DbfTable(path)
            except RecordError as exc:
                self._unreadable(exc, path, file_id, st, final)
                continue
            consumed += self._read_table(fh, path, file_id, table, st.st_size, final)
        for file_id in [f for f in self._paths if f not in live]:
            self._give_up(file_id)
        self.checkpoints.forget_missing(live)
        return consumed

    def _unreadable(self, exc: RecordError, path: Path, file_id: str, st: os.stat_result, final: bool) -> None:
        # a table being created is briefly incomplete: only a quiet one is damaged, told once per size
        quiet = final or time.time() - st.st_mtime >= self.unreadable_after_s
        if quiet and self._told_unreadable.get(file_id) != st.st_size:
            self._told_unreadable[file_id] = st.st_size
            send_dead_letter(self.publisher, self.stats, self.source, self.parser.format_name,
                             f"{path}#header", str(exc), b"")
            self.publisher.flush()

    def _read_table(self, fh: BinaryIO, path: Path, file_id: str, table: DbfTable, size: int, final: bool) -> int:
        count = table.count(size)
        held = self._held.setdefault(file_id, {})
        if count < max(self.checkpoints.offset(file_id), self._read_to.get(file_id, 0)):
            log.warning("%s has fewer records than its checkpoint: rewritten, reading from record 0", path)
            held.clear()
            self._read_to.pop(file_id, None)
            self.checkpoints.save(file_id, path, 0)
        start = self._read_to.get(file_id, self.checkpoints.offset(file_id))
        ctx = SourceContext(self.source, str(path), self.timezone)
        consumed, again = 0, sorted(held)
        while again or start < count:
            stop = min(count, start + CHUNK_RECORDS)
            dead_letters = self.stats.dead_letters
            records = [r for recno in again for r in table.read(fh, recno)] + table.read(fh, start, stop)
            cdrs = self._take(table, records, path, held, ctx, final)
            checkpoint = min(held, default=stop)
            if cdrs or self.stats.dead_letters > dead_letters or checkpoint != self.checkpoints.offset(file_id):
                self._publish(file_id, path, cdrs, checkpoint)
            self._read_to[file_id] = stop
            consumed += stop - start
            start, again = stop, []
        return consumed

    def _take(self, table: DbfTable, records: list[tuple[int, bytes]], path: Path,
              held: dict[int, tuple[float, dict]], ctx: SourceContext, final: bool) -> list[dict]:
        """The CDRs of these (record number, raw) records; unsettled ones are held, bad ones dead-lettered."""
        now, cdrs = self.clock(), []
        for recno, raw in records:
            try:
                record = table.decode(raw)
                if record is not None and not self.parser.settled(record):
                    first_seen = held[recno][0] if recno in held else now
                    held[recno] = (first_seen, record)
                    if not final and now - first_seen < self.settle_after_s:
                        continue
                held.pop(recno, None)
                self.stats.lines += 1
                cdr = self.parser(record, recno, ctx) if record is not None else None
                if cdr is not None:
                    cdrs.append(cdr)
            except RecordError as exc:
                held.pop(recno, None)
                send_dead_letter(self.publisher, self.stats, self.source, self.parser.format_name,
                                 f"{path}#{recno}", str(exc), raw)
        return cdrs

    def _publish(self, file_id: str, path: Path, cdrs: list[dict], checkpoint: int) -> None:
        self.publisher.send_cdrs(self.source, cdrs)
        self.publisher.flush()                              # acknowledged by the broker …
        self.checkpoints.save(file_id, path, checkpoint)    # … and only then checkpointed
        self.stats.cdrs += len(cdrs)
        if self.on_progress:
            self.on_progress(self.stats)

    def _give_up(self, file_id: str) -> None:
        """A table that disappeared: its held records are published as last read."""
        path = self._paths.pop(file_id)
        held = self._held.pop(file_id, {})
        self._read_to.pop(file_id, None)
        self._told_unreadable.pop(file_id, None)
        ctx = SourceContext(self.source, str(path), self.timezone)
        cdrs = []
        for recno, (_, record) in sorted(held.items()):
            self.stats.lines += 1
            try:
                cdr = self.parser(record, recno, ctx)
            except RecordError as exc:
                send_dead_letter(self.publisher, self.stats, self.source, self.parser.format_name,
                                 f"{path}#{recno}", str(exc), repr(record).encode())
                continue
            if cdr is not None:
                cdrs.append(cdr)
        if held:
            self.publisher.send_cdrs(self.source, cdrs)
            self.publisher.flush()
            self.stats.cdrs += len(cdrs)

    def run(self, follow: bool, interval_s: float = 0.5, stop: Callable[[], bool] = lambda: False) -> SourceStats:
        """follow=False reads what is there (held records published as they are) and returns;
        follow=True keeps reading until stop()."""
        while True:
            self.poll(final=not follow)
            if self.heartbeat:
                self.heartbeat.beat()
            if not follow or stop():
                return self.stats
            time.sleep(interval_s)
