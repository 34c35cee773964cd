"""Publishes simulated CDRs: the demo (paced to wall-clock time) and benchmark (flat out) source."""
from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Iterator

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
