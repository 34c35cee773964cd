"""Liveness of a long-running producer, for a Kubernetes exec probe.

A producer touches its heartbeat file after every poll whose records the broker acknowledged;
`cdrflow probe FILE --max-age S` fails once the file is older than S seconds. That catches what
an exception does not: a read stuck on a hung mount, a deadlock, a loop that stopped polling.
A broker that refuses or times out deliveries already ends the process (Publisher.flush raises).
"""
from __future__ import annotations

import os
import time
from pathlib import Path


class Heartbeat:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def beat(self) -> None:
        self.path.touch()


def heartbeat_age_s(path: Path) -> float | None:
    """Seconds since the last beat, None when there was none."""
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None
