"""Byte-offset checkpoints of file sources, written atomically after the broker acknowledged."""
from __future__ import annotations

import json
import os
from pathlib import Path


class CheckpointStore:
    """file identity (device:inode) → {"path", "offset"}; one JSON file per source."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.entries: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}

    def offset(self, file_id: str) -> int:
        return self.entries.get(file_id, {}).get("offset", 0)

    def save(self, file_id: str, path: Path, offset: int) -> None:
        self.entries[file_id] = {"path": str(path), "offset": offset}
        self._write()

    def _write(self) -> None:
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
