"""`cdrflow bench`'s pipeline stages, small, on a real broker, worker and chdb: the worker-only
drain of a pre-filled topic, the end-to-end figure as the median of the runs shown, and the
traffic's share of distinct numbers."""
from __future__ import annotations

from rich.console import Console

from cdrflow.bench.pipeline import _simulated, distinct_share, run_bench
from cdrflow.infra.config import Settings


def test_distinct_share_counts_callers_callees_and_either_per_cdr():
    cdrs = [{"calling_number": a, "called_number": b}
            for a, b in [("1", "2"), ("1", "3"), ("2", "3"), ("4", "1")]]
    # callers {1, 2, 4}, callees {2, 3, 1}, either {1, 2, 3, 4}
    assert distinct_share(cdrs) == "100.0% of CDRs (callers 75.0%, callees 75.0%; 4 CDRs)"
    assert distinct_share(cdrs[:2] * 2).startswith("75.0% of CDRs (callers 25.0%, callees 50.0%")


def test_the_bench_publishes_cdrs_as_a_switch_writes_them_when_each_call_ends():
    """In start order a take's CDRs end over minutes of event time: partials and ticks for every
    10-second step of it, a load no switch's stream puts on the worker (docs/benchmarks.md)."""
    cdrs = _simulated(Settings(), seed=5, count=5_000)
    assert len({c["cdr_id"] for c in cdrs}) == 5_000       # as_written keeps them all: tests/test_simulate.py
    ends, starts = [c["end_ms"] for c in cdrs], [c["start_ms"] for c in cdrs]
    assert ends == sorted(ends) and starts != sorted(starts)


def test_bench_drains_a_prefilled_topic_and_takes_the_median_of_three_end_to_end_runs(tmp_path, monkeypatch):
    for key in ("CDRFLOW_DATA_DIR", "CDRFLOW_KAFKA_BOOTSTRAP", "CDRFLOW_PARTITIONS", "CDRFLOW_WORKER_WEB_PORT"):
        monkeypatch.setenv(key, "")         # the bench sets these for its own stack; put back after the test
    console = Console(file=open(tmp_path / "bench.txt", "w"), width=200)
    figures = run_bench(cdrs=1_000, partitions=2, console=console, rate=2_000, paced_s=0.5, detection=False,
                        parse=False)
    runs = [float(r.replace(",", "")) for r in figures["end_to_end_runs_cdr_per_s"].split(" · ")]
    assert len(runs) == 3 and round(figures["end_to_end_cdr_per_s"]) == sorted(runs)[1]
    assert figures["worker_only_cdr_per_s"] > 0 and figures["worker_start_to_ready_s"] > 0
    assert 0 < figures["worker_only_peak_rss_mb"] <= figures["worker_peak_rss_mb"]
    assert figures["traffic_distinct_numbers"].endswith("; 1,000 CDRs)")
    # per-step figures only when the worker reports them, each a positive µs per CDR
    steps = {k: v for k, v in figures.items() if k.startswith("worker_only_step_")}
    assert all(v > 0 for v in steps.values()), steps
    printed = (tmp_path / "bench.txt").read_text()
    assert "end_to_end_runs_cdr_per_s" in printed and "worker only = a worker started on a topic pre-filled" in printed
