"""Byte-offset checkpoints of file sources, written atomically.

Each file has two positions: `offset`, up to which the broker acknowledged, and `stored`, up to
which the worker confirmed everything stored (producers/stored_checkpoint.py). A broker that keeps
its log (Kafka) resumes a source from `offset`; the local Tansu broker keeps messages in memory
only, so there a source resumes from `stored` (`resume_from_stored`) and re-publishes the rest,
which the worker's cdr_id dedup absorbs.

A checkpoint file that cannot be read stops the source with CheckpointError: starting from 0
would re-read every file, and skipping would lose what it held, both silently.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


class CheckpointError(RuntimeError):
    pass


class CheckpointStore:
    """file identity (device:inode) → {"path", "offset", "stored"}; one JSON file per source."""

    def __init__(self, path: Path | None, resume_from_stored: bool = False):
        """path None keeps the positions in memory only: every file from 0, no state left behind
        (what `cdrflow check` reads with)."""
        self.path, self.resume_from_stored = path, resume_from_stored
        self.entries: dict[str, dict] = {}
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            self.entries = self._load()
        if resume_from_stored:
            for entry in self.entries.values():
                entry["offset"] = entry.get("stored", entry["offset"])

    def _load(self) -> dict[str, dict]:
        try:
            entries = json.loads(self.path.read_bytes())
            if not isinstance(entries, dict):
                raise ValueError("not a JSON object")
            for file_id, entry in entries.items():
                for key in ("offset", "stored"):
                    value = entry.get(key, 0)
                    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                        raise ValueError(f"{file_id}: {key} {value!r} is not a byte offset")
                if not isinstance(entry.get("offset"), int):
                    raise ValueError(f"{file_id}: no offset")
        except (ValueError, AttributeError, UnicodeDecodeError) as exc:
            raise CheckpointError(
                f"checkpoint file {self.path} is unreadable ({exc}); the source stops rather than read its files "
                "again from the start or skip what the checkpoint held: restore the file, or delete it to "
                "re-read every file from the start (stored CDRs are not stored twice)") from None
        return entries

    def offset(self, file_id: str) -> int:
        return self.entries.get(file_id, {}).get("offset", 0)

    def stored(self, file_id: str) -> int:
        entry = self.entries.get(file_id, {})
        return entry.get("stored", entry.get("offset", 0))

    def save(self, file_id: str, path: Path, offset: int) -> None:
        """The broker acknowledged up to offset. Where the worker confirms (resume_from_stored),
        the stored position moves only by confirm(), but never stays past offset (a file that was
        truncated is read again from 0); elsewhere acknowledged counts as kept."""
        stored = min(self.stored(file_id), offset) if self.resume_from_stored else offset
        self.entries[file_id] = {"path": str(path), "offset": offset, "stored": stored}
        self._write()

    def confirm(self, positions: dict[str, int]) -> None:
        """file id → position up to which the worker stored everything."""
        changed = False
        for file_id, position in positions.items():
            entry = self.entries.get(file_id)
            if entry and position > entry.get("stored", -1):
                entry["stored"] = min(position, entry["offset"])
                changed = True
        if changed:
            self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            json.dump(self.entries, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def forget_missing(self, live_ids: set[str]) -> None:
        """Drops entries of files that are gone, so a reused inode starts from the beginning."""
        gone = set(self.entries) - live_ids
        for file_id in gone:
            del self.entries[file_id]
        if gone:  # on disk too, or a restart would hand the stale offset to the reused inode
            self._write()
