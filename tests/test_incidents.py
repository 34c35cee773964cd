"""Incident baselines, storage and the escalation report on embedded ClickHouse; the whole
detector on a real broker and worker with simulated faults."""
from __future__ import annotations

import asyncio

import orjson
import pytest
from cdrflow.incidents.detector import absorb, evaluate
from cdrflow.incidents.partials import MINUTE_MS, partial_messages
from cdrflow.incidents.report import build_report, to_markdown
from cdrflow.incidents.store import load_baselines, store_incidents
from cdrflow.infra.config import Thresholds
from cdrflow.schemas.causes import classify
from cdrflow.stream.detection import PREFETCH_AFTER_MS, Baselines

from support.quality import cdr, store

DAY = 86_400_000
AT = 1_795_003_200_000            # 2026-11-18 12:00 UTC, in ms


def calls(first: int, start_ms: int, count: int, answered: int, failed_cause: int = 34, **kw) -> list[dict]:
    return [cdr(first + i, start_ms + i * 1000, answered_s=30 if i < answered else None,
                q850=16 if i < answered else failed_cause, **kw) for i in range(count)]


def test_baseline_prefers_same_hours_of_previous_days(clickhouse):
    settings, client = clickhouse
    # recent (3 h ending 15 min before AT): 400 calls, 100 answered, first at AT − 2 h → 105 minutes
    store(clickhouse, calls(0, AT - 2 * 3_600_000, 400, 100))
    recent = load_baselines(client, settings, AT)["verizon|out"]
    assert (recent.seizures, recent.answered, recent.minutes) == (400, 100, 105)
    # history: the same hour ±30 min one and two days before: 250 + 150 calls, 200 answered
    store(clickhouse, calls(1000, AT - DAY - 20 * 60_000, 250, 125) + calls(2000, AT - 2 * DAY + 10 * 60_000, 150, 75)
          + calls(3000, AT - DAY - 40 * 60_000, 300, 0))     # 40 min before: outside ±30 min
    history = load_baselines(client, settings, AT)["verizon|out"]
    assert (history.seizures, history.answered, history.network, history.minutes) == (400, 200, 200, 120)
    assert history.per_minute == pytest.approx(400 / 120)


def test_baseline_needs_ten_times_min_seizures(clickhouse):
    settings, client = clickhouse
    store(clickhouse, calls(0, AT - 3_600_000, 299, 100))
    assert load_baselines(client, settings, AT) == {}
    store(clickhouse, calls(500, AT - 3_500_000, 1, 1))
    assert load_baselines(client, settings, AT)["verizon|out"].seizures == 300


def test_baseline_needs_min_baseline_minutes(clickhouse):
    settings, client = clickhouse
    # 400 calls from AT − 30 min, one a second: the recent window [AT − 195 min, AT − 15 min) holds
    # them all (enough seizures) but spans 15 minutes from the first: under min_baseline_minutes (20)
    store(clickhouse, calls(0, AT - 30 * 60_000, 400, 100))
    assert load_baselines(client, settings, AT) == {}
    # one call at AT − 36 min makes it 21 minutes
    store(clickhouse, calls(500, AT - 36 * 60_000, 1, 1))
    base = load_baselines(client, settings, AT)["verizon|out"]
    assert (base.seizures, base.minutes) == (401, 21)


def test_a_baseline_read_ahead_is_not_short_of_calls_still_in_progress(clickhouse):
    """The detector reads a slot's baselines ahead (stream/detection.py Baselines), when ClickHouse
    holds the calls that had ended by its watermark. Calls of 10 minutes must all be counted."""
    settings, client = clickhouse
    reads = []

    async def load(at_ms):
        reads.append(at_ms)
        return {}

    async def read_ahead(watermark):
        Baselines(load).read_ahead(watermark)
        await asyncio.sleep(0)

    watermark = AT + PREFETCH_AFTER_MS          # AT starts a slot: the next slot's baselines are read
    asyncio.run(read_ahead(watermark))
    # the hour before the watermark: each minute 50 calls, 30 of them answered and talking 10 minutes
    traffic = [cdr(m * 100 + i, watermark - (60 - m) * MINUTE_MS + i * 1000,
                   answered_s=600 if i < 30 else None, q850=16 if i < 30 else 34)
               for m in range(60) for i in range(50)]
    store(clickhouse, [c for c in traffic if c["end_ms"] <= watermark])
    read = load_baselines(client, settings, reads[0])["verizon|out"]
    assert (read.answered / read.seizures, read.minutes) == (0.6, 49)
    store(clickhouse, [c for c in traffic if c["end_ms"] > watermark])
    assert load_baselines(client, settings, reads[0])["verizon|out"] == read


def test_stored_incident_gives_an_escalation_report(clickhouse):
    settings, client = clickhouse
    t = Thresholds()
    start = AT - 60 * MINUTE_MS
    healthy = [c for m in range(40) for c in calls(m * 100, start + m * MINUTE_MS, 40, 22, failed_cause=17)]
    failing = [c for m in range(40, 45) for c in calls(m * 100, start + m * MINUTE_MS, 40, 2)]
    store(clickhouse, healthy + failing)
    base = load_baselines(client, settings, start + 40 * MINUTE_MS)["verizon|out"]
    assert (base.seizures, base.answered) == (1000, 550)    # minutes 15-39 of the healthy hour (25 × 40)
    enriched = [dict(c, interconnect="verizon", direction="out",
                     cause_class=classify(bool(c["answer_ms"]), c["q850_cause"]))
                for c in healthy + failing]
    messages, _ = partial_messages(enriched)
    state = {}
    absorb(state, messages["verizon|out"], offset=0)
    events = []
    for m in range(38, 45):          # judge minutes 38-44: the data ends with minute 44
        events += evaluate("verizon|out", state, start + (m + 1) * MINUTE_MS + 1, base, t)
    assert [e["event"] for e in events] == ["open"] + ["update"] * 4
    store_incidents(client, settings, [e["incident"] for e in events])
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


HOUR_MS = 3_600_000
T0 = 1_794_999_600_000          # an hour boundary; the simulated day runs from here (event time)
FAULT_AT, FAULT_MIN = T0 + 200 * MINUTE_MS, 15


@pytest.mark.parametrize("settings", [{"CDRFLOW_PARTITIONS": "1", "CDRFLOW_DETECTION_LATENESS_S": "60"}],
                         indirect=True)
@pytest.mark.parametrize("killed_mid_fault", [False, True], ids=["steady", "worker-killed-mid-fault"])
def test_simulated_faults_open_the_right_incidents_and_resolve(settings, worker, killed_mid_fault):
    """Four hours of simulated traffic (10 calls/s over 8 interconnects); from minute 200 for 15
    minutes att's answers collapse, lumen fails with network causes and tmobile's traffic vanishes.
    One partition keeps the replay (far faster than real time) in event-time order.

    killed: the worker is killed (SIGKILL) five minutes into the faults, with the incidents open,
    and started again; its detector state comes back from the changelog, so each incident goes on
    (no second open, same id) and the healthy interconnects stay quiet."""
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.simulate import Fault, SimConfig, as_written, generate
    from cdrflow.producers.simulator_source import publish_stream

    from support.kafka import read_topic
    from support.worker import query
    faults = (Fault("att", "answer_collapse", FAULT_AT, FAULT_AT + FAULT_MIN * MINUTE_MS),
              Fault("lumen", "network_causes", FAULT_AT, FAULT_AT + FAULT_MIN * MINUTE_MS),
              Fault("tmobile", "traffic_vanish", FAULT_AT, FAULT_AT + FAULT_MIN * MINUTE_MS))
    cfg = SimConfig(seed=11, start_ms=T0, calls_per_second=10.0, interconnects=dict(settings.interconnects),
                    faults=faults, diurnal=False)
    day_end = T0 + 4 * HOUR_MS
    # the day's CDRs: calls still running at its end have not been written yet (nor judged)
    day = [c for c in as_written(generate(cfg, until_ms=day_end)) if c["end_ms"] < day_end]
    kill_at = FAULT_AT + 5 * MINUTE_MS if killed_mid_fault else day_end
    publisher = Publisher(settings.kafka_bootstrap, settings)
    published = publish_stream((c for c in day if c["end_ms"] < kill_at), publisher, settings.batch_max_cdrs)
    worker.start()
    worker.wait_for(lambda s: s["cdrs_stored"] >= published, timeout_s=300)
    if killed_mid_fault:
        # the detector has judged into the faults: the incidents are open
        worker.wait_for(lambda s: s["watermark_ms"] >= kill_at - 2 * MINUTE_MS and s["incident_events"] >= 6,
                        timeout_s=120)
        events_before = worker.stats()["incident_events"]
        worker.kill()
        # a new process counts from zero: the rest of the day (a redelivered take is not stored again)
        published = publish_stream((c for c in day if c["end_ms"] >= kill_at), publisher, settings.batch_max_cdrs)
        worker.start()
        worker.wait_for(lambda s: s["cdrs_stored"] >= published, timeout_s=300)
    else:
        events_before = 0
    publisher.close()
    # the detector has judged up to the last closed minute of the day
    worker.wait_for(lambda s: s["watermark_ms"] >= day_end - 2 * MINUTE_MS, timeout_s=120)

    rows = query(settings, "SELECT toString(id), status, interconnect, toString(direction), kinds, "
                           "toUnixTimestamp(start_time) * 1000, toUnixTimestamp(end_time) * 1000 "
                           "FROM cdrflow.incidents FINAL ORDER BY interconnect, direction")
    by_interconnect: dict[str, list] = {}
    for row in rows:
        by_interconnect.setdefault(row[2], []).append(row)
    # healthy interconnects stay quiet over the whole simulated day; each faulty one opens
    assert set(by_interconnect) == {"att", "lumen", "tmobile"}
    expected_kind = {"att": "asr_drop", "lumen": "network_causes", "tmobile": "traffic_vanish"}
    for interconnect, incidents in by_interconnect.items():
        assert len(incidents) <= 2                    # one per direction at most: no flapping
        for _, status, _, _, kinds, start_ms, end_ms in incidents:
            assert expected_kind[interconnect] in kinds
            assert status == "resolved"
            # dated by CDR end minutes: calls in progress when the fault starts or ends keep ending
            # (and being written) for a few minutes, which blurs both edges by about a call length
            assert FAULT_AT - MINUTE_MS <= start_ms <= FAULT_AT + 5 * MINUTE_MS
            assert FAULT_AT + (FAULT_MIN - 1) * MINUTE_MS <= end_ms <= FAULT_AT + (FAULT_MIN + 5) * MINUTE_MS

    # the same lifecycle went to the incidents topic: open first, resolve last, per incident
    events = [orjson.loads(v) for v in read_topic(settings.kafka_bootstrap, settings.topic_incidents,
                                                  expect=events_before + worker.stats()["incident_events"])]
    lifecycle: dict[str, list[str]] = {}
    versions: dict[str, list[int]] = {}
    for event in events:
        lifecycle.setdefault(event["incident"]["id"], []).append(event["event"])
        versions.setdefault(event["incident"]["id"], []).append(event["incident"]["version"])
    assert set(lifecycle) == {row[0] for row in rows}
    assert all(kinds[0] == "open" and kinds[-1] == "resolve" and set(kinds[1:-1]) <= {"update"}
               for kinds in lifecycle.values())
    # each incident's versions only grow (a judgement redone after the kill may repeat one): the
    # restarted detector went on with the incident it had, not a fresh one
    assert all(v == sorted(v) for v in versions.values())
