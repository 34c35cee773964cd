"""File source: tail the CDR files a switch writes, follow rotation, publish, then checkpoint.

Files are known by device:inode, so a rotated file (Master.csv → Master.csv.1) keeps its offset
and is read to its end while the new Master.csv starts at 0; a file that shrank was truncated in
place (copytruncate) and is read again from 0. Only whole lines are read: a line the switch is
still writing waits for its newline.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable
from zoneinfo import ZoneInfo

from cdrflow.schemas.envelope import DeadLetter, truncate_raw

from .checkpoint import CheckpointStore
from .parsing import LineParser, RecordError, SourceContext
from .publisher import Publisher

log = logging.getLogger("cdrflow.producers")

CHUNK_BYTES = 4 * 1024 * 1024


@dataclass
class SourceStats:
    lines: int = 0
    cdrs: int = 0
    dead_letters: int = 0
    bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class FileSource:
    source: str
    paths: list[Path]                    # files, or directories watched with `pattern`
    parser: LineParser
    publisher: Publisher
    checkpoints: CheckpointStore
    timezone: ZoneInfo
    pattern: str = "*"
    stats: SourceStats = field(default_factory=SourceStats)
    on_progress: Callable[[SourceStats], None] | None = None

    def files(self) -> list[Path]:
        found: list[Path] = []
        for path in self.paths:
            if path.is_dir():
                found.extend(p for p in path.glob(self.pattern) if p.is_file())
            elif path.is_file():
                found.append(path)
        # Oldest first, so a rotated file's tail is published before its successor's head.
        return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))

    def poll(self) -> int:
        """Reads every file from its checkpoint to its last complete line; returns bytes consumed."""
        consumed, live = 0, set()
        for path in self.files():
            try:
                fh = open(path, "rb")
            except FileNotFoundError:
                continue
            # Identity and every chunk come from this one open file: if the switch rotates while
            # it is read, the name then means the new file, but the offset belongs to this one.
            with fh:
                st = os.fstat(fh.fileno())
                file_id = f"{st.st_dev}:{st.st_ino}"
                live.add(file_id)
                offset = self.checkpoints.offset(file_id)
                if st.st_size < offset:
                    log.warning("%s shrank below its checkpoint: truncated, reading from 0", path)
                    offset = 0
                    # Kept, or a poll after the rewrite outgrew the old offset would resume there.
                    self.checkpoints.save(file_id, path, offset)
                while st.st_size > offset:
                    read = self._read_chunk(fh, path, file_id, offset)
                    if not read:
                        break
                    offset += read
                    consumed += read
        self.checkpoints.forget_missing(live)
        return consumed

    def _read_chunk(self, fh: BinaryIO, path: Path, file_id: str, offset: int) -> int:
        fh.seek(offset)
        data = fh.read(CHUNK_BYTES)
        end = data.rfind(b"\n") + 1
        if end == 0:
            return 0
        ctx = SourceContext(self.source, str(path), self.timezone)
        cdrs, position = [], offset
        for line in data[:end].splitlines(keepends=True):
            try:
                cdr = self.parser(line, position, ctx)
                if cdr is not None:
                    cdrs.append(cdr.model_dump())
            except RecordError as exc:
                self._dead_letter(str(exc), path, position, line)
            position += len(line)
            self.stats.lines += 1
        self.publisher.send_cdrs(self.source, cdrs)
        self.publisher.flush()                      # acknowledged by the broker …
        self.checkpoints.save(file_id, path, offset + end)   # … and only then checkpointed
        self.stats.cdrs += len(cdrs)
        self.stats.bytes += end
        if self.on_progress:
            self.on_progress(self.stats)
        return end

    def _dead_letter(self, reason: str, path: Path, offset: int, line: bytes) -> None:
        self.publisher.send_dead_letter(DeadLetter(
            stage="parse", reason=reason, source=self.source, source_format=self.parser.format_name,
            position=f"{path}:{offset}", raw=truncate_raw(line.rstrip(b"\r\n"))))
        self.stats.dead_letters += 1
        key = reason.split(":")[0]
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1

    def run(self, follow: bool, interval_s: float = 0.5, stop: Callable[[], bool] = lambda: False) -> SourceStats:
        """follow=False reads what is there and returns; follow=True keeps tailing until stop()."""
        while True:
            self.poll()
            if not follow or stop():
                return self.stats
            time.sleep(interval_s)
