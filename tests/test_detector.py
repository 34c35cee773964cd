"""Incident decisions on crafted per-minute partials, figures computed by hand in the comments."""
from __future__ import annotations

import pytest

from cdrflow.config import Thresholds
from cdrflow.stream.detector import Figures, absorb, breaches, evaluate
from cdrflow.stream.partials import MINUTE_MS, empty, partial_messages

T = Thresholds()   # min_seizures 30, window 5, asr_margin .15, ner_margin .10, network .20, vanish .10
# 60 minutes of history: 100 seizures/min, ASR .55, NER .95, network share .01, PDD 2000 ms
BASE = Figures(seizures=6000, answered=3300, effective=5700, network=60, pdd_sum=6000 * 2000, pdd_n=6000, minutes=60)


def window(seizures, answered, effective=None, network=0, pdd_avg=2000, minutes=5) -> Figures:
    effective = answered + (seizures - answered) * 9 // 10 if effective is None else effective
    return Figures(seizures, answered, effective, network, pdd_avg * seizures, seizures, minutes)


def test_healthy_window_breaches_nothing():
    assert breaches(window(500, 275), BASE, T) == []


def test_asr_drop_below_baseline_minus_margin():
    # threshold .55 − max(.15, 4·√(.55·.45/500) = .089) = .40
    assert breaches(window(500, 205, effective=480), BASE, T) == []        # ASR .41
    assert breaches(window(500, 195, effective=480), BASE, T) == ["asr_drop"]   # ASR .39


def test_noise_floor_protects_small_interconnects():
    small = Figures(seizures=480, answered=264, effective=456, network=5, minutes=60)   # 8/min, ASR .55
    # n = 40: 4σ = 4·√(.2475/40) = .315 > .15 → threshold .235
    assert breaches(window(40, 10, effective=38), small, T) == []           # ASR .25
    assert breaches(window(40, 9, effective=38), small, T) == ["asr_drop"]   # ASR .225


def test_ner_drop_and_network_causes():
    # NER threshold .95 − max(.10, 4·√(.0475/500) = .039) = .85; network: max(.20, .01 + .018) = .20
    kinds = breaches(window(500, 250, effective=400, network=150), BASE, T)   # NER .80, network .30
    assert kinds == ["ner_drop", "network_causes"]
    assert breaches(window(500, 275, network=100), BASE, T) == []             # exactly .20 is not above


def test_traffic_vanish_needs_expected_traffic():
    # expected 100/min × 5 = 500; vanished at ≤ 50; 20 seizures are too few for the ratio checks
    assert breaches(window(20, 0, effective=0), BASE, T) == ["traffic_vanish"]
    assert breaches(window(51, 28), BASE, T) == []
    quiet_base = Figures(seizures=300, answered=165, effective=285, minutes=60)   # 5/min → expects 25 < 30
    assert breaches(window(0, 0, effective=0), quiet_base, T) == []


def test_pdd_rise():
    # baseline 2000 ms: over 4000 ms (factor 2) and ≥ 1000 ms above
    assert breaches(window(500, 275, pdd_avg=4100), BASE, T) == ["pdd_rise"]
    assert breaches(window(500, 275, pdd_avg=3900), BASE, T) == []


def test_without_baseline_only_network_causes_can_fire():
    assert breaches(window(500, 5, effective=5), None, T) == []
    assert breaches(window(500, 100, network=150), None, T) == ["network_causes"]


def minute(seizures, answered, effective, network=0, q850=None):
    p = empty()
    p.update(seizures=seizures, answered=answered, effective=effective, network=network)
    if q850:
        p["causes"] = {str(q850): seizures - answered}
        p["samples"] = [{"call_id": f"c{seizures}", "cdr_id": "x", "start_ms": 0, "q850_cause": q850, "sip_code": 503}]
    return p


def test_incident_lifecycle_open_update_resolve():
    """Minutes 0-9 and 15-29 healthy (100 seizures, 55 answered, 95 effective); 10-14 failing
    (100 seizures, 10 answered, 50 effective, cause 34)."""
    state = {}
    timeline = {str(m * MINUTE_MS): (minute(100, 10, 50, 50, q850=34) if 10 <= m <= 14 else minute(100, 55, 95))
                for m in range(30)}
    absorb(state, {"minutes": timeline}, offset=1)
    events = []
    for m in range(6, 30):          # the watermark enters minute m+1: minute m is closed
        events += evaluate("verizon|out", state, (m + 1) * MINUTE_MS + 5_000, BASE, T)
    kinds = [e["event"] for e in events]
    # window 6-10: ASR (4·55+10)/500 = .46 ≥ .40 → healthy, but minute 10 alone (n = 100) breaches:
    # ASR .10 < .55 − max(.15, 4·√(.2475/100) = .199) = .351; NER .50 < .85; network .50 > .20.
    # The last breaching window is 13-17 (ASR .37 < .40); quiet for 5 minutes → resolves judging 22.
    assert kinds == ["open"] + ["update"] * 11 + ["resolve"]
    opened, resolved = events[0]["incident"], events[-1]["incident"]
    assert opened["kinds"] == resolved["kinds"] == ["asr_drop", "ner_drop", "network_causes"]
    assert opened["start_ms"] == 10 * MINUTE_MS
    assert opened["lost_calls"] == pytest.approx(45)      # minute 10: 55 expected − 10 answered
    assert resolved["status"] == "resolved" and resolved["end_ms"] == 15 * MINUTE_MS
    assert resolved["lost_calls"] == pytest.approx(5 * 45)
    assert resolved["severity"] == "critical"           # window ASR .19 < half of .55
    assert resolved["causes"] == {"34": 5 * 90}
    assert resolved["samples"][0]["q850_cause"] == 34
    assert opened["id"] == resolved["id"] and state["incident"] is None
    assert [e["incident"]["version"] for e in events] == list(range(1, 14))


def test_replayed_partials_are_absorbed_once():
    state = {}
    message = {"minutes": {"0": minute(10, 5, 9)}}
    assert absorb(state, message, offset=7) is True
    assert absorb(state, message, offset=7) is False
    assert state["minutes"]["0"]["seizures"] == 10


def test_partial_messages_bucket_final_records_by_end_minute():
    def rec(n, end_ms, cls, ic="verizon", kind="stop", pdd=None):
        return {"cdr_id": str(n), "call_id": str(n), "start_ms": end_ms - 90_000, "end_ms": end_ms, "interconnect": ic,
                "direction": "out", "record_kind": kind, "cause_class": cls, "q850_cause": 16, "sip_code": None,
                "pdd_ms": pdd}
    messages, watermark = partial_messages([
        rec(1, 60_500, "answered", pdd=1000), rec(2, 61_000, "network", pdd=3000), rec(3, 125_000, "user"),
        rec(4, 130_000, "answered", kind="start"), rec(5, 140_000, "answered", ic=None)])
    assert watermark == 140_000
    assert list(messages) == ["verizon|out"]
    minutes = messages["verizon|out"]["minutes"]
    assert sorted(minutes) == ["120000", "60000"]
    one = minutes["60000"]
    assert (one["seizures"], one["answered"], one["effective"], one["network"], one["pdd_sum"], one["pdd_n"]) == (2, 1, 1, 1, 4000, 2)
    assert one["causes"] == {"16": 2} and [s["call_id"] for s in one["samples"]] == ["2"]
    assert (minutes["120000"]["seizures"], minutes["120000"]["effective"]) == (1, 1)
