"""The worker's counters (/stats, /metrics, platform_health) and the time each ingest step takes."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


class StepTimes:
    """Seconds spent in each named step of the ingest chain and the CDRs it handled: µs per CDR."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cdrs: dict[str, int] = {}

    def add(self, step: str, seconds: float, cdrs: int) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + seconds
        self.cdrs[step] = self.cdrs.get(step, 0) + cdrs

    def us_per_cdr(self) -> dict[str, float]:
        return {step: round(s * 1e6 / self.cdrs[step], 2) for step, s in self.seconds.items() if self.cdrs[step]}


@dataclass
class WorkerStats:
    """Counters the live view and the benchmark read from /stats."""

    started_at: float = field(default_factory=time.time)
    messages: int = 0
    cdrs_in: int = 0
    cdrs_stored: int = 0
    duplicates_skipped: int = 0
    dead_letters: int = 0
    incident_events: int = 0
    alarm_events: int = 0
    watermark_ms: int = 0           # detector's event time judged: newest CDR end time less the lateness
    last_write_s: float = 0.0
    # failed writes of CDRs, retried until stored (stream/ingest.py Store); the error while they fail
    write_failures: int = 0
    write_error: str | None = None
    write_failing_since: float | None = None
    # recent messages' (Kafka CreateTime, produce → stored latency: CreateTime to the end of the write), ms
    latencies: deque = field(default_factory=lambda: deque(maxlen=2_000))
    steps: StepTimes = field(default_factory=StepTimes)

    def record_latencies(self, created_ms: list[float], now_ms: float) -> None:
        self.latencies.extend((created, now_ms - created) for created in created_ms)

    def as_dict(self, since_ms: float | None = None) -> dict:
        """since_ms: latency percentiles of the messages produced from then on only (a benchmark
        stage's), not of a backlog stored just before it."""
        figures = {k: v for k, v in self.__dict__.items() if k not in ("latencies", "steps")}
        ordered = sorted(latency for created, latency in self.latencies if since_ms is None or created >= since_ms)
        for name, q in (("latency_p50_ms", 0.50), ("latency_p95_ms", 0.95)):
            figures[name] = ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None
        figures["peak_rss_mb"] = peak_rss_mb()
        figures["steps_us_per_cdr"] = self.steps.us_per_cdr()
        return figures


def first_line(exc: BaseException) -> str:
    """An error's first line, short enough for the live view (chdb's messages run to pages)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


def peak_rss_mb() -> float | None:
    """The process's high-water mark of resident memory (VmHWM), from /proc."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
