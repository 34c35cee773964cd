"""Which notifications each channel delivered: a restart between a delivery and its offset
commit finds the key here and does not send it again."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path


class DeliveredLedger:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        # one connection per channel thread: sqlite connections stay in their thread
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS delivered (channel TEXT, key TEXT, at REAL, "
                        "PRIMARY KEY (channel, key))")

    def delivered(self, channel: str, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM delivered WHERE channel = ? AND key = ?", (channel, key)).fetchone() \
            is not None

    def record(self, channel: str, key: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO delivered VALUES (?, ?, ?)", (channel, key, time.time()))

    def close(self) -> None:
        self.db.close()
