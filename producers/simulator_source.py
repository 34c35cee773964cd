"""Publishes simulated CDRs: the demo (paced to wall-clock time) and benchmark (flat out) source."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import orjson

from .publisher import Publisher


def publish_stream(cdrs: Iterable[dict[str, Any]], publisher: Publisher, batch: int,
                   on_progress: Callable[[int], None] | None = None, flush_every: int = 50) -> int:
    """Groups CDRs into envelopes per source and publishes them; returns the count published."""
    total, pending = 0, 0
    iterator: Iterator[dict[str, Any]] = iter(cdrs)
    while chunk := list(itertools.islice(iterator, batch)):
        by_source: dict[str, list[dict[str, Any]]] = {}
        for cdr in chunk:
            by_source.setdefault(cdr["source"], []).append(cdr)
        for source, group in by_source.items():
            publisher.send_cdrs(source, group)
        total += len(chunk)
        pending += 1
        if pending >= flush_every:
            publisher.flush()
            pending = 0
        if on_progress:
            on_progress(total)
    publisher.flush()
    return total


class SimulatedUntil:
    """Where a paced simulation's event clock stopped, so the next run's history starts there and
    two runs on one data dir never simulate the same minutes twice (their cdr_ids differ by run,
    so the overlap would be counted twice)."""

    def __init__(self, path: Path):
        self.path = path

    def history_start(self, now_ms: int, history_minutes: float) -> int:
        start = now_ms - int(history_minutes * 60_000)
        try:
            return min(now_ms, max(start, orjson.loads(self.path.read_bytes())["until_ms"]))
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return start

    def save(self, until_ms: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_bytes(orjson.dumps({"until_ms": until_ms}))
