"""The endpoints the chart's probes and ServiceMonitor use, on a real worker process."""
from __future__ import annotations

import time
import urllib.error
import urllib.request

from cdrflow.stream.metrics import prometheus_text


def get(settings, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.worker_web_port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_metrics_render_counters_and_gauges_and_skip_missing_values():
    text = prometheus_text({"cdrs_stored": 7, "last_write_s": 0.25, "latency_p50_ms": None})
    assert "# TYPE cdrflow_worker_cdrs_stored_total counter\ncdrflow_worker_cdrs_stored_total 7\n" in text
    assert "cdrflow_worker_last_write_s 0.25" in text and "latency_p50" not in text


def test_ready_follows_partition_assignment_and_metrics_scrape(settings, worker):
    worker.start()                                  # returns once /health answers
    deadline = time.monotonic() + 120
    while (answer := get(settings, "/ready"))[0] != 200:
        assert answer[0] == 503 and b'"ready":false' in answer[1]
        assert time.monotonic() < deadline, answer
        time.sleep(0.5)
    assert b'"clickhouse":true' in answer[1]
    status, body = get(settings, "/metrics")
    assert status == 200 and b"cdrflow_worker_messages_total 0" in body
