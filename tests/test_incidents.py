"""Incident baselines, storage and the escalation report on embedded ClickHouse; the whole
detector on a real broker and worker with simulated faults."""
from __future__ import annotations

import orjson
import pytest

from cdrflow.config import Thresholds
from cdrflow.incident_report import build_report, to_markdown
from cdrflow.stream.detector import evaluate, absorb
from cdrflow.stream.incidents import load_baselines, store_incident
from cdrflow.stream.partials import MINUTE_MS, partial_messages

from test_interconnect_quality import cdr, store

DAY = 86_400_000
AT = 1_795_003_200_000            # 2026-11-18 12:00 UTC, in ms


def calls(first: int, start_ms: int, count: int, answered: int, **kw) -> list[dict]:
    return [cdr(first + i, start_ms + i * 1000, answered_s=30 if i < answered else None,
                q850=16 if i < answered else 34, **kw) for i in range(count)]


def test_baseline_prefers_same_hours_of_previous_days(clickhouse):
    settings, client = clickhouse
    # recent (3 h ending 15 min before AT): 40 calls, 10 answered, first at AT − 2 h → 105 minutes
    store(clickhouse, calls(0, AT - 2 * 3_600_000, 40, 10))
    baselines = load_baselines(client, settings, AT)
    recent = baselines["verizon|out"]
    assert (recent.seizures, recent.answered, recent.minutes) == (40, 10, 105)
    # history: the same hour ±30 min one and two days before: 50 + 40 calls, 45 answered
    store(clickhouse, calls(100, AT - DAY - 20 * 60_000, 50, 25) + calls(200, AT - 2 * DAY + 10 * 60_000, 40, 20)
          + calls(300, AT - DAY - 40 * 60_000, 30, 0))     # 40 min before: outside ±30 min
    history = load_baselines(client, settings, AT)["verizon|out"]
    assert (history.seizures, history.answered, history.network, history.minutes) == (90, 45, 45, 120)
    assert history.per_minute == pytest.approx(90 / 120)


def test_baseline_needs_min_seizures(clickhouse):
    settings, client = clickhouse
    store(clickhouse, calls(0, AT - 3_600_000, 29, 10))
    assert load_baselines(client, settings, AT) == {}


def test_stored_incident_gives_an_escalation_report(clickhouse):
    settings, client = clickhouse
    t = Thresholds()
    start = AT - 60 * MINUTE_MS
    healthy = [c for m in range(40) for c in calls(m * 100, start + m * MINUTE_MS, 40, 22)]
    failing = [c for m in range(40, 45) for c in calls(m * 100, start + m * MINUTE_MS, 40, 2)]
    store(clickhouse, healthy + failing)
    base = load_baselines(client, settings, start + 40 * MINUTE_MS)["verizon|out"]
    assert (base.seizures, base.answered) == (1000, 550)    # minutes 15-39 of the healthy hour (25 × 40)
    enriched = [dict(c, interconnect="verizon", direction="out",
                     cause_class="answered" if c["answer_ms"] else "network") for c in healthy + failing]
    messages, _ = partial_messages(enriched)
    state = {}
    absorb(state, messages["verizon|out"], offset=0)
    events = []
    for m in range(38, 45):          # judge minutes 38-44: the data ends with minute 44
        events += evaluate("verizon|out", state, start + (m + 1) * MINUTE_MS + 1, base, t)
    assert [e["event"] for e in events] == ["open"] + ["update"] * 4
    for event in events:
        store_incident(client, settings, event["incident"])
    incident_id = events[0]["incident"]["id"]
    report = build_report(settings, incident_id[:8])
    assert report["incident"]["kinds"] == ["asr_drop", "ner_drop", "network_causes"]
    # the last update was judging minute 44: the report window is [minute 40, minute 45)
    assert report["window"] == {"start": "2026-11-18 11:40 UTC", "end": "2026-11-18 11:45 UTC", "ongoing": True}
    during = report["during"]
    assert (during["seizures"], during["answered"]) == (200, 10)         # minutes 40-44 exactly
    before = report["before"]
    assert (before["seizures"], before["answered"]) == (1600, 880)      # the 40 healthy minutes
    assert during["causes"] == {16: 10, 34: 190}
    assert report["incident"]["lost_calls"] == pytest.approx(5 * (0.55 * 40 - 2))
    text = to_markdown(report)
    assert "| seizures | 1600 | 200 |" in text and "| ASR | 55.0 % | 5.0 % |" in text
    assert [c["q850_cause"] for c in report["sample_calls"]] == [34] * 10
