"""/stats counters in the Prometheus text format, so a ServiceMonitor can scrape the worker's web port."""
from __future__ import annotations

# Monotonic since the worker started; everything else in /stats is a gauge.
COUNTERS = {"messages", "cdrs_in", "cdrs_stored", "duplicates_skipped", "dead_letters", "incident_events",
            "alarm_events"}


def prometheus_text(figures: dict) -> str:
    lines = []
    for name, value in figures.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue                       # None (no latency sample yet) is absent, not 0
        kind = "counter" if name in COUNTERS else "gauge"
        metric = f"cdrflow_worker_{name}" + ("_total" if kind == "counter" else "")
        lines += [f"# TYPE {metric} {kind}", f"{metric} {value}"]
    return "\n".join(lines) + "\n"
