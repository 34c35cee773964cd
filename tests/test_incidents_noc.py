"""Calls in progress and NOC alarms on a real broker and worker: ninety minutes of hand-made
traffic replayed in event time, counted by hand."""
from __future__ import annotations

import orjson
import pytest
from cdrflow.schemas.cdr import CDR, make_cdr_id

M = 60_000
T0 = 1_794_999_600_000          # an hour boundary (2026-11-18 11:00 UTC): the traffic's event time


def call(n: int, start_ms: int, seconds: float | None, trunk: str, called: str = "2125550199",
         kind: str = "stop") -> dict:
    """An answered call from the demo tenant acme's DID (a START when kind is 'start': answered,
    its end not known yet)."""
    answer_ms = start_ms + 2_000
    end_ms = answer_ms if kind == "start" else answer_ms + int(seconds * 1000)
    native = f"{kind}-{n}"
    return CDR(cdr_id=make_cdr_id("sbc-1", native), source="sbc-1", source_format="test", native_id=native,
               call_id=f"call-{n}", record_kind=kind, start_ms=start_ms, answer_ms=answer_ms, end_ms=end_ms,
               duration_ms=end_ms - start_ms, billable_ms=end_ms - answer_ms, calling_number="2125550100",
               called_number=called, ingress_trunk="CUST-1", egress_trunk=trunk, q850_cause=16,
               source_file="test", source_offset=n).model_dump()


def traffic() -> list[dict]:
    """In the order a switch writes them (by record time):
    - background: a 28 s call on TG-VZ-01 at the start of every minute 0-89;
    - congestion: 9 calls on TG-VZ-01 over minutes 20-25 (with the background call, 10 of its
      10 channels: 100 % for six minutes), ending at minute 26;
    - a long call on TG-ATT-01 answered at minute 5 whose STOP never comes (a START only);
    - a long call on TG-BT-01 from minute 1 to 80½ of a format that writes end records only;
    - a surge to the premium prefix 882: 12 calls of 20 s in minute 40 on TG-ORANGE-01."""
    calls = [call(n, T0 + n * M, 26, "TG-VZ-01") for n in range(90)]
    calls += [call(100 + i, T0 + 20 * M + i * 1000, 6 * M / 1000 - 2 - i, "TG-VZ-01") for i in range(9)]
    calls.append(call(200, T0 + 5 * M, None, "TG-ATT-01", kind="start"))
    calls.append(call(201, T0 + M, 79.5 * 60 - 2, "TG-BT-01"))
    calls += [call(300 + i, T0 + 40 * M + i * 5_000, 18, "TG-ORANGE-01", called="01188216123456") for i in range(12)]
    return sorted(calls, key=lambda c: c["end_ms"])


NOC_SETTINGS = {
    "CDRFLOW_PARTITIONS": "1",
    "CDRFLOW_TRUNK_CHANNELS": '{"TG-VZ-01": 10}',
    "CDRFLOW_ALARMS__UTILISATION_PCT": "80",
    "CDRFLOW_ALARMS__UTILISATION_MINUTES": "3",
    "CDRFLOW_ALARMS__QUIET_MINUTES": "2",
    "CDRFLOW_ALARMS__LONG_CALL_S": "3600",
    "CDRFLOW_ALARMS__PREMIUM_PREFIXES": '["882"]',
    "CDRFLOW_ALARMS__PREMIUM_MIN_CALLS": "10",
    "CDRFLOW_ALARMS_JUDGE_EVERY_S": "0.5",
}


@pytest.mark.parametrize("settings", [NOC_SETTINGS], indirect=True)
def test_calls_in_progress_and_alarms_on_replayed_traffic(settings, worker):
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.simulator_source import publish_stream

    from support.kafka import read_all
    from support.worker import query
    publisher = Publisher(settings.kafka_bootstrap, settings)
    published = publish_stream(traffic(), publisher, settings.batch_max_cdrs)
    publisher.close()
    worker.start()
    worker.wait_for(lambda s: s["cdrs_stored"] >= published, timeout_s=120)

    def in_progress(at_ms: int) -> dict[tuple[str, str, str], int]:
        rows = query(settings, "SELECT dimension, name, direction, calls FROM cdrflow.calls_in_progress("
                               "at = fromUnixTimestamp64Milli({at:Int64}))", {"at": at_ms})
        return {(d, n, direction): calls for d, n, direction, calls in rows if calls}

    # 22:30: the nine congestion calls (the background call ended at 22:28), the START, the long call
    assert in_progress(T0 + 22 * M + 30_000) == {
        ("interconnect", "verizon", "out"): 9, ("interconnect", "att", "out"): 1, ("interconnect", "bt-intl", "out"): 1,
        ("trunk", "TG-VZ-01", ""): 9, ("trunk", "TG-ATT-01", ""): 1, ("trunk", "TG-BT-01", ""): 1,
        ("trunk", "CUST-1", ""): 11, ("tenant", "acme", ""): 11}
    # 40:10: the background call of minute 40, three premium calls (40:00, :05, :10 … the last just
    # started), the START and the long call
    at = T0 + 40 * M + 10_000
    assert in_progress(at)[("trunk", "TG-ORANGE-01", "")] == 3
    assert in_progress(at)[("trunk", "CUST-1", "")] == 1 + 3 + 2
    # 85:00: the end-only long call has ended; the START is still up (no STOP, not yet stale)
    assert in_progress(T0 + 85 * M + 30_000) == {
        ("interconnect", "att", "out"): 1, ("trunk", "TG-ATT-01", ""): 1, ("trunk", "CUST-1", ""): 1,
        ("tenant", "acme", ""): 1}

    # the alarms, judged up to the last closed minute (89). The worker stored the traffic in one take,
    # so the first judgement already knew the end-only long call: up an hour at 61:00, ended 80:30
    worker.wait_for(lambda s: s["watermark_ms"] >= T0 + 89 * M, timeout_s=60)
    worker.wait_for(lambda s: s["alarm_events"] >= 7, timeout_s=60)
    rows = query(settings, "SELECT kind, subject, toString(status), version, toUnixTimestamp(since) * 1000, "
                           "toUnixTimestamp(updated_at) * 1000 FROM cdrflow.alarms FINAL ORDER BY since")
    assert rows == [
        ["utilisation", "TG-VZ-01", "resolved", 2, T0 + 20 * M, T0 + 28 * M],       # busy 20-22, quiet 26, 27
        ["premium_surge", "882", "resolved", 2, T0 + 31 * M, T0 + 51 * M],          # window [31, 41)
        ["long_call", "sbc-1/call-201", "resolved", 2, T0 + 61 * M, T0 + 82 * M],
        ["long_call", "sbc-1/call-200", "open", 1, T0 + 65 * M, T0 + 65 * M],       # the START, no STOP
    ]
    events = [orjson.loads(v) for v in read_all(settings.kafka_bootstrap, settings.topic_alarms, expect=7)]
    assert sorted((e["kind"], e["status"], e["updated_ms"]) for e in events) == sorted([
        ("utilisation", "open", T0 + 23 * M), ("utilisation", "resolved", T0 + 28 * M),
        ("premium_surge", "open", T0 + 41 * M), ("premium_surge", "resolved", T0 + 51 * M),
        ("long_call", "open", T0 + 65 * M),
        ("long_call", "open", T0 + 61 * M), ("long_call", "resolved", T0 + 82 * M)])
    assert {e["id"] for e in events} == {r[0] for r in query(settings, "SELECT toString(id) FROM cdrflow.alarms")}
