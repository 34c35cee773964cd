"""The worker process's allocator and collector, tuned for takes of ~100k CDRs a second.

A take makes millions of short-lived objects and, per column, lists of 100k pointers (~800 KB).
Both defaults suit small programs and cost a worker memory or time (docs/benchmarks.md, issue 19):

- glibc raises its mmap threshold to the size of each large block freed, up to 32 MB, so after the
  first take those lists come from the heap instead of their own mappings, and the heap keeps what
  they fragment: fixed at 128 KB, a take's columns go back to the system when it is done (prepare
  alone, 1.5M CDRs: 632 → 492 MB, same CPU).
- CPython's collector, at its default thresholds (700, 10, 10), walks every tracked object of the
  worker several times a take; start-up objects are frozen out of the walk and the young generation
  collected ~150x less often (prepare, in process: 15.0 → 13.5 µs per CDR). Takes hold no cycles.

CPython's GIL switch interval stays at 5 ms: at 1 ms records reached the agent sooner (latency p95
at 20,000 CDR/s offered ~3.8 → ~2.8 s) but the worker drained ~20 % fewer CDR/s (more handovers
between prepare, the write and the event loop; docs/benchmarks.md, 2026-12-05).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger("cdrflow.stream")
M_MMAP_THRESHOLD = -3           # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024
GC_THRESHOLDS = (100_000, 50, 100)


def tune_worker_process() -> None:
    """Called once, after start-up and before the first take."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    libc = ctypes.util.find_library("c")
    mallopt = getattr(ctypes.CDLL(libc), "mallopt", None) if libc else None
    if mallopt is None or not mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES):
        log.info("the C library's mmap threshold is not settable here; large blocks follow its default")
