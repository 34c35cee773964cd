"""Which notifications a channel delivered: a restart between a delivery and its offset commit
finds the key here and does not send it again.

An append-only file of keys, one per line, synced after each: small (tens of bytes a key) and
readable with `cat`. At start it keeps only its newest KEEP keys: older ones belong to events
whose offsets were committed long ago and are never read again.
"""
from __future__ import annotations

import os
from pathlib import Path

KEEP = 100_000


class DeliveredLedger:
    def __init__(self, directory: Path, channel: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"delivered-{channel}.txt"
        keys = self.path.read_text().split() if self.path.exists() else []
        if len(keys) > 2 * KEEP:
            keys = keys[-KEEP:]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(f"{k}\n" for k in keys))
            os.replace(tmp, self.path)
        self.keys = set(keys)
        self.file = open(self.path, "a")

    def delivered(self, key: str) -> bool:
        return key in self.keys

    def record(self, key: str) -> None:
        self.file.write(f"{key}\n")
        self.file.flush()
        os.fsync(self.file.fileno())
        self.keys.add(key)

    def close(self) -> None:
        self.file.close()
