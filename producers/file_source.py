"""File source: tail the CDR files a switch writes, follow rotation, publish, then checkpoint.

Files are known by device:inode, so a rotated file (Master.csv → Master.csv.1) keeps its offset
and is read to its end while the new Master.csv starts at 0; a file that shrank was truncated in
place (copytruncate) and is read again from 0. Only whole lines are read while following: a line
the switch is still writing waits for its newline. A file's last line without a newline is read
(a) by a one-shot run, which reads closed files — CUCM and mod_json_cdr end their files without
one, and a user expects the last record read — and (b) while following, once the file has not
changed for `unterminated_after_s`: a writer finishes a line in one write, so a file that quiet is
complete (one mod_json_cdr document per file), and waiting for a newline would wait for ever.

A FileParser format (see parsing.py) gets one parser per file, made from the file's first line.
When that parser groups records into calls, the checkpoint stops at the oldest row it holds, and
the position read so far is kept in memory so a running source does not feed a row twice; at
the end of a one-shot run, and when a file disappears, its still-open calls are drained.

On the local broker, which keeps messages in memory only, a source is given `confirmations`:
each published chunk is tracked until the worker has stored it, and only then does the file's
stored position move — the one a restart resumes from (stored_checkpoint.py says why).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from zoneinfo import ZoneInfo

from cdrflow.schemas.envelope import DeadLetter, truncate_raw

from .checkpoint import CheckpointStore
from .heartbeat import Heartbeat
from .parsing import FileParser, GroupingParser, LineParser, SourceContext, parse_lines
from .publisher import Publisher
from .stored_checkpoint import StoredConfirmations

log = logging.getLogger("cdrflow.producers")

CHUNK_BYTES = 4 * 1024 * 1024


@dataclass
class SourceStats:
    lines: int = 0
    cdrs: int = 0
    dead_letters: int = 0
    bytes: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def open_files(paths: list[Path], pattern: str) -> Iterator[tuple[Path, BinaryIO, os.stat_result, str]]:
    """(path, open file, its stat, identity device:inode) of the files named and of those matching
    pattern in the directories named, oldest first, so a rotated file's tail is published before
    its successor's head. Identity and every read come from the one open file: if the switch
    rotates while it is read, the name then means the new file, but the offset belongs to this one."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in path.glob(pattern) if p.is_file())
        elif path.is_file():
            found.append(path)
    for path in sorted(found, key=lambda p: (p.stat().st_mtime, p.name)):
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            continue
        with fh:
            st = os.fstat(fh.fileno())
            yield path, fh, st, f"{st.st_dev}:{st.st_ino}"


def send_dead_letter(publisher: Publisher, stats: SourceStats, source: str, format_name: str,
                     position: str, reason: str, raw: bytes) -> None:
    """A record no parser could read, to the dead-letter topic with its reason and position."""
    publisher.send_dead_letter(DeadLetter(stage="parse", reason=reason, source=source, source_format=format_name,
                                          position=position, raw=truncate_raw(raw)))
    stats.dead_letters += 1
    key = reason.split(":")[0]
    stats.reasons[key] = stats.reasons.get(key, 0) + 1


@dataclass
class FileSource:
    source: str
    paths: list[Path]                    # files, or directories watched with `pattern`
    parser: LineParser | FileParser
    publisher: Publisher
    checkpoints: CheckpointStore
    timezone: ZoneInfo
    pattern: str = "*"
    stats: SourceStats = field(default_factory=SourceStats)
    on_progress: Callable[[SourceStats], None] | None = None
    unterminated_after_s: float = 30.0
    heartbeat: Heartbeat | None = None   # beaten after each poll the broker acknowledged
    confirmations: StoredConfirmations | None = None   # the local broker: resume from what was stored
    # file id → (path, its parser) for FileParser formats, and → bytes read when ahead of the checkpoint
    _file_parsers: dict[str, tuple[Path, LineParser]] = field(default_factory=dict, repr=False)
    _read_to: dict[str, int] = field(default_factory=dict, repr=False)
    _stop: Callable[[], bool] = field(default=lambda: False, repr=False)

    def poll(self, final: bool = False) -> int:
        """Reads every file from its checkpoint to its last complete line — to its end when final
        or when the file is quiet (see the module doc); returns bytes consumed."""
        consumed, live = 0, set()
        for path, fh, st, file_id in open_files(self.paths, self.pattern):
            live.add(file_id)
            offset = self._read_to.get(file_id) or self.checkpoints.offset(file_id)
            if st.st_size < offset:
                log.warning("%s shrank below its checkpoint: truncated, reading from 0", path)
                offset = 0
                self._read_to.pop(file_id, None)
                self._file_parsers.pop(file_id, None)  # a rewritten file may have a new header
                if self.confirmations:
                    self.confirmations.forget(file_id)
                # Kept, or a poll after the rewrite outgrew the old offset would resume there.
                self.checkpoints.save(file_id, path, offset)
            ends = final or time.time() - st.st_mtime >= self.unterminated_after_s
            parser = self._parser_for(fh, path, file_id, ends)
            while parser and st.st_size > offset:
                read = self._read_chunk(fh, path, file_id, offset, parser, st.st_size if ends else None)
                if not read:
                    break
                offset += read
                consumed += read
                if st.st_size > offset and self._stop():    # a stop does not wait for a long backlog
                    break
        for file_id in [f for f in self._file_parsers if f not in live]:
            self._drain(file_id)
            del self._file_parsers[file_id]
            self._read_to.pop(file_id, None)
        if self.confirmations:
            for file_id in set(self.checkpoints.entries) - live:
                self.confirmations.forget(file_id)
            self.confirmations.confirm(self.checkpoints)
        self.checkpoints.forget_missing(live)
        return consumed

    def _parser_for(self, fh: BinaryIO, path: Path, file_id: str, ends: bool) -> LineParser | None:
        """The registry's LineParser, or the one its FileParser made from this file's first line
        (None until that line is complete, or the file has ended)."""
        if not isinstance(self.parser, FileParser):
            return self.parser
        if file_id not in self._file_parsers:
            fh.seek(0)
            first = fh.readline()
            if not first or not (ends or first.endswith(b"\n")):
                return None
            self._file_parsers[file_id] = (path, self.parser.for_file(first))
        return self._file_parsers[file_id][1]

    def file_parsers(self) -> dict[Path, LineParser]:
        """path → the parser its FileParser format made for it (for `cdrflow check`)."""
        return {path: parser for path, parser in self._file_parsers.values()}

    def _drain(self, file_id: str) -> None:
        """Publishes the calls a grouping parser still holds for a file that is read to its end."""
        path, parser = self._file_parsers[file_id]
        if not isinstance(parser, GroupingParser):
            return
        cdrs = parser.drain(final=True)
        if cdrs:
            self.publisher.send_cdrs(self.source, cdrs)
            self.publisher.flush()
            self.stats.cdrs += len(cdrs)
            if self.on_progress:
                self.on_progress(self.stats)
        if file_id in self._read_to:
            self._checkpoint(file_id, path, self._read_to.pop(file_id), len(cdrs))

    def _read_chunk(self, fh: BinaryIO, path: Path, file_id: str, offset: int, parser: LineParser,
                    ends_at: int | None) -> int:
        """Parses and publishes the lines from offset on; an unterminated last line only when the
        file is known to end at ends_at."""
        fh.seek(offset)
        # not past ends_at: bytes appended since are no part of the ended file's last line
        data = fh.read(CHUNK_BYTES if ends_at is None else min(CHUNK_BYTES, ends_at - offset))
        end = data.rfind(b"\n") + 1
        if ends_at is not None and offset + len(data) == ends_at:
            end = len(data)
        if end == 0:
            return 0
        ctx = SourceContext(self.source, str(path), self.timezone)
        lines = data[:end].splitlines(keepends=True)
        cdrs, failed = parse_lines(parser, lines, offset, ctx)
        for position, raw, reason in failed:
            self._dead_letter(reason, path, position, raw)
        self.stats.lines += len(lines)
        checkpoint = offset + end
        if isinstance(parser, GroupingParser):
            cdrs.extend(parser.drain(final=False))
            held = parser.held_from()
            if held is not None and held < checkpoint:
                checkpoint = held
                self._read_to[file_id] = offset + end
            else:
                self._read_to.pop(file_id, None)
        self.publisher.send_cdrs(self.source, cdrs)
        self.publisher.flush()                      # acknowledged by the broker …
        self._checkpoint(file_id, path, checkpoint, len(cdrs))     # … and only then checkpointed
        self.stats.cdrs += len(cdrs)
        self.stats.bytes += end
        if self.on_progress:
            self.on_progress(self.stats)
        return end

    def _checkpoint(self, file_id: str, path: Path, position: int, cdrs: int) -> None:
        """After the broker acknowledged everything up to position (and where it landed, when the
        worker's confirmation moves the stored position)."""
        self.checkpoints.save(file_id, path, position)
        if self.confirmations:
            self.confirmations.record(file_id, position, self.publisher.take_marks(), cdrs)
            self.confirmations.confirm(self.checkpoints, throttle=True)

    def settle(self, stop: Callable[[], bool] = lambda: False, interval_s: float = 0.3,
               on_wait: Callable[[int], None] | None = None) -> int:
        """Waits until the worker stored every CDR published (or stop()); returns those still not
        confirmed. Without confirmations (a broker that keeps its log) there is nothing to wait for."""
        if not self.confirmations:
            return 0
        while True:
            self.confirmations.confirm(self.checkpoints)
            left = self.confirmations.unconfirmed_cdrs
            if not self.confirmations.pending or stop():
                return left
            if on_wait:
                on_wait(left)
            time.sleep(interval_s)

    def _dead_letter(self, reason: str, path: Path, offset: int, raw: bytes) -> None:
        send_dead_letter(self.publisher, self.stats, self.source, self.parser.format_name,
                         f"{path}:{offset}", reason, raw)

    def run(self, follow: bool, interval_s: float = 0.5, stop: Callable[[], bool] = lambda: False) -> SourceStats:
        """follow=False reads what is there and returns; follow=True keeps tailing until stop(),
        which is also asked between chunks of a file."""
        self._stop = stop
        try:
            return self._run(follow, interval_s, stop)
        finally:
            self._stop = lambda: False

    def _run(self, follow: bool, interval_s: float, stop: Callable[[], bool]) -> SourceStats:
        while True:
            self.poll(final=not follow)
            if self.heartbeat:
                self.heartbeat.beat()
            if not follow:
                for file_id in self._file_parsers:
                    self._drain(file_id)
                return self.stats
            if stop():
                return self.stats
            time.sleep(interval_s)
