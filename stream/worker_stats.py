"""The worker's counters (/stats, /metrics, platform_health) and the time each ingest step takes."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


# A take's marks, in order: handed to the chain, prepared, its write started, stored, announced, acknowledged.
TAKE_MARKS = ("taken", "prepared", "write_started", "stored", "announced", "acked")


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
    takes: int = 0                  # acknowledged by the ingest chain (a Faust take over worker_take_mb: its parts)
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
    # recent takes' (oldest CreateTime, wall ms at each of TAKE_MARKS): where the latency goes
    take_marks: deque = field(default_factory=lambda: deque(maxlen=500))
    steps: StepTimes = field(default_factory=StepTimes)

    def record_latencies(self, created_ms: list[float], now_ms: float) -> None:
        self.latencies.extend((created, now_ms - created) for created in created_ms)

    def record_take(self, created_ms: list[float], marks: dict[str, float]) -> None:
        """A take's wall times (ms) at each of TAKE_MARKS, with its oldest message's CreateTime."""
        self.take_marks.append((min(created_ms), [marks[mark] for mark in TAKE_MARKS]))

    def latency_stages(self, since_ms: float | None = None) -> dict[str, dict[str, float]]:
        """p50/p95 over recent takes of the ms spent between marks, from the oldest message's
        CreateTime: in Kafka and Faust's buffer (`taken`), prepare, waiting for the write before,
        the write, announce (after the take before it), ack."""
        spans: dict[str, list[float]] = {mark: [] for mark in TAKE_MARKS}
        for created, marks in self.take_marks:
            if since_ms is None or created >= since_ms:
                for mark, before, at in zip(TAKE_MARKS, [created, *marks], marks):
                    spans[mark].append(at - before)
        return {mark: {"p50": percentile(ms, 0.50), "p95": percentile(ms, 0.95)} for mark, ms in spans.items() if ms}

    def as_dict(self, since_ms: float | None = None) -> dict:
        """since_ms: latency percentiles of the messages produced from then on only (a benchmark
        stage's), not of a backlog stored just before it."""
        figures = {k: v for k, v in self.__dict__.items() if k not in ("latencies", "take_marks", "steps")}
        latencies = [latency for created, latency in self.latencies if since_ms is None or created >= since_ms]
        figures["latency_p50_ms"], figures["latency_p95_ms"] = percentile(latencies, 0.50), percentile(latencies, 0.95)
        figures["latency_stages_ms"] = self.latency_stages(since_ms)
        figures["peak_rss_mb"] = peak_rss_mb()
        figures["steps_us_per_cdr"] = self.steps.us_per_cdr()
        return figures


def percentile(values: list[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


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
