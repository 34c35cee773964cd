"""Incident decisions on crafted per-minute partials, figures computed by hand in the comments."""
from __future__ import annotations

from decimal import Decimal, getcontext
from fractions import Fraction
from math import comb, factorial

import pytest
from cdrflow.incidents.detector import (
    Figures,
    absorb,
    binomial_tail,
    breaches,
    evaluate,
    poisson_lower_tail,
)
from cdrflow.incidents.partials import MINUTE_MS, empty, partial_messages
from cdrflow.infra.config import Thresholds

T = Thresholds()   # min_seizures 30, window 5, asr_margin .15, ner_margin .10, network .20, vanish .50
# 60 minutes of history: 100 seizures/min, ASR .55, NER .95, network share .01, PDD 2000 ms
BASE = Figures(seizures=6000, answered=3300, effective=5700, network=60, pdd_sum=6000 * 2000, pdd_n=6000, minutes=60)


def window(seizures, answered, effective=None, network=0, pdd_avg=2000, minutes=5) -> Figures:
    effective = answered + (seizures - answered) * 9 // 10 if effective is None else effective
    return Figures(seizures, answered, effective, network, pdd_avg * seizures, seizures, minutes)


def test_healthy_window_breaches_nothing():
    assert breaches(window(500, 275), BASE, T) == []


def test_asr_drop_below_baseline_minus_margin():
    # margin: ASR ≤ .55 − .15 = .40; tails P(X ≤ 205) = 2.3e-10, P(X ≤ 195) = 5e-13 are both < alpha
    assert breaches(window(500, 205, effective=480), BASE, T) == []        # ASR .41
    assert breaches(window(500, 195, effective=480), BASE, T) == ["asr_drop"]   # ASR .39


def test_noise_floor_protects_small_interconnects():
    small = Figures(seizures=480, answered=264, effective=456, network=5, minutes=60)   # 8/min, ASR .55
    # n = 40 at p = .55: P(X ≤ 7) = 1.22e-6, P(X ≤ 6) = 1.99e-7 (exact sums, see below); alpha 1e-6
    assert breaches(window(40, 7, effective=38), small, T) == []           # ASR .175: a big drop, but 40 calls
    assert breaches(window(40, 6, effective=38), small, T) == ["asr_drop"]  # ASR .15


def exact_tail(k: int, n: int, p: str, lower: bool) -> float:
    """The binomial tail in rational arithmetic: an independent check of binomial_tail."""
    q = Fraction(p)
    terms = range(0, k + 1) if lower else range(k, n + 1)
    return float(sum(comb(n, i) * q ** i * (1 - q) ** (n - i) for i in terms))


@pytest.mark.parametrize("k,n,p,lower", [(7, 40, "0.55", True), (6, 40, "0.55", True), (45, 55, "0.9455", True),
                                         (185, 500, "0.55", True), (150, 500, "0.01", False), (3, 10, "0.5", False),
                                         (0, 20, "0.3", True), (20, 20, "0.3", False),
                                         # tails that hold the mode, down to all of it
                                         (500, 500, "0.01", True), (0, 500, "0.99", False), (3, 500, "0.01", True),
                                         (2, 500, "0.01", False), (1110, 2000, "0.55", True), (920, 2000, "0.5", True)])
def test_binomial_tail_is_exact(k, n, p, lower):
    assert binomial_tail(k, n, float(p), lower) == pytest.approx(exact_tail(k, n, p, lower), rel=1e-9)


@pytest.mark.parametrize("k,lam", [(250, 500.0), (10, 40.0), (9, 30.0), (0, 3.0), (50, 40.0)])
def test_poisson_lower_tail_is_exact(k, lam):
    getcontext().prec = 60
    exact = sum((-Decimal(lam)).exp() * Decimal(lam) ** i / factorial(i) for i in range(k + 1))
    assert poisson_lower_tail(k, lam) == pytest.approx(float(exact), rel=1e-9)


def test_running_minute_opens_an_incident_before_it_closes():
    # minute 10 has run 20 s: 40 seizures, 4 answered. Alone: P(X ≤ 4 | 40, .55) = 3e-9 → open now
    state = {}
    absorb(state, {"minutes": {str(m * MINUTE_MS): minute(100, 55, 95) for m in range(10)}
                   | {str(10 * MINUTE_MS): minute(40, 4, 20)}}, offset=1)
    assert evaluate("att|in", state, 10 * MINUTE_MS + 5_000, BASE, T) == []     # 5 s in: too early
    [event] = evaluate("att|in", state, 10 * MINUTE_MS + 20_000, BASE, T)
    assert event["event"] == "open" and event["incident"]["start_ms"] == 10 * MINUTE_MS
    assert event["incident"]["updated_ms"] == 10 * MINUTE_MS + 20_000
    # when minute 10 closes it is judged in full: an update, not a second open
    state["minutes"][str(10 * MINUTE_MS)] = minute(100, 10, 50)
    [event] = evaluate("att|in", state, 11 * MINUTE_MS + 1_000, BASE, T)
    assert event["event"] == "update" and event["incident"]["lost_calls"] == pytest.approx(45)


def test_binomial_tail_at_certain_outcomes():
    assert binomial_tail(0, 10, 0.0, lower=True) == 1.0 and binomial_tail(1, 10, 0.0, lower=False) == 0.0
    assert binomial_tail(9, 10, 1.0, lower=True) == 0.0 and binomial_tail(10, 10, 1.0, lower=False) == 1.0


def test_small_windows_near_one_are_judged_on_the_exact_tail():
    # NER baseline .9455, 55 calls, 45 effective (.818): a normal approximation calls this −4.2σ,
    # the exact tail is 7e-4: ordinary noise for a small interconnect, no incident
    base = Figures(seizures=1726, answered=820, effective=1632, network=19, minutes=179)
    assert breaches(window(55, 26, effective=45), base, T) == []


def test_ner_drop_and_network_causes():
    # NER ≤ .95 − .10 = .85 (P(X ≤ 400) = 2.5e-32); network share > .20 (P(X ≥ 150 | .01) = 5e-171)
    kinds = breaches(window(500, 250, effective=400, network=150), BASE, T)   # NER .80, network .30
    assert kinds == ["ner_drop", "network_causes"]
    assert breaches(window(500, 275, network=100), BASE, T) == []             # exactly .20 is not above


def test_traffic_vanish_needs_expected_traffic():
    # expected 100/min × 5 = 500; vanished at ≤ 250; 20 seizures are too few for the ratio checks
    assert breaches(window(20, 0, effective=0), BASE, T) == ["traffic_vanish"]
    assert breaches(window(250, 138), BASE, T) == ["traffic_vanish"]    # P(X ≤ 250 | 500) = 1.6e-33
    assert breaches(window(251, 138), BASE, T) == []
    # one minute of a small interconnect: expected 40, seen 10 (≤ 20): P(X ≤ 10 | 40) = 1.6e-8, vanished;
    # expected 30, seen 9 (≤ 15): P(X ≤ 9 | 30) = 7.1e-6 > alpha, could be noise
    small = Figures(seizures=2400, answered=1320, effective=2280, minutes=60)        # 40/min
    assert breaches(window(10, 5, minutes=1), small, T) == ["traffic_vanish"]
    smaller = Figures(seizures=1800, answered=990, effective=1710, minutes=60)       # 30/min
    assert breaches(window(9, 5, minutes=1), smaller, T) == []
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
    # window 6-10: ASR (4·55+10)/500 = .46 > .40 → healthy, but minute 10 alone (n = 100) breaches:
    # ASR .10 ≤ .40 (P = 3e-21), NER .50 ≤ .85 (P = 7e-38), network share .50 > .20 (P = 6e-72).
    # The last breaching window is 13-17 (ASR .37, P = 5e-16); quiet for 5 minutes → resolves judging 22.
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


def test_replayed_partials_are_absorbed_once_per_minute():
    state = {}
    assert absorb(state, {"minutes": {"0": minute(10, 5, 9)}}, offset=7) == ["0"]
    assert absorb(state, {"minutes": {"0": minute(4, 2, 3), "60000": minute(6, 3, 5)}}, offset=8) == ["0", "60000"]
    # a redelivery from offset 7: each minute already holds it
    assert absorb(state, {"minutes": {"0": minute(10, 5, 9)}}, offset=7) == []
    assert absorb(state, {"minutes": {"0": minute(4, 2, 3), "60000": minute(6, 3, 5)}}, offset=8) == []
    assert state["minutes"]["0"]["seizures"] == 14 and state["minutes"]["60000"]["seizures"] == 6


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
    assert (one["seizures"], one["answered"], one["effective"], one["network"], one["pdd_sum"], one["pdd_n"]) == \
           (2, 1, 1, 1, 4000, 2)
    assert one["causes"] == {"16": 2} and [s["call_id"] for s in one["samples"]] == ["2"]
    assert (minutes["120000"]["seizures"], minutes["120000"]["effective"]) == (1, 1)


# 1000 seizures/min; 20 s (two 10-s slices) expect 333.3 calls
BUSY = Figures(seizures=60_000, answered=33_000, effective=57_000, network=600, minutes=60)


def sliced(tens, quick):
    p = empty()
    p.update(seizures=sum(tens), answered=sum(tens) * 55 // 100, effective=sum(tens) * 95 // 100,
             tens=list(tens), quick=list(quick))
    return p


def recent_state(history_minutes, tens01, quick01):
    """history_minutes healthy minutes before minute 30 (1000 calls, 200 quick: share .2), then
    minute 30's first two slices."""
    healthy = sliced([166, 167, 167, 167, 167, 166], [33, 33, 34, 33, 33, 34])
    minutes = {str(m * MINUTE_MS): healthy for m in range(30 - history_minutes, 30)}
    minutes[str(30 * MINUTE_MS)] = sliced(list(tens01) + [0] * 4, list(quick01) + [0] * 4)
    return minutes


@pytest.mark.parametrize("history,tens,quick,vanished", [
    # expected quick = .2 × 333.3 = 66.7 (share from minutes 0-24, before the 5-minute window)
    (30, (120, 120), (10, 10), True),     # 20 ≤ 33.3; P(X ≤ 20 | 66.7) = 2e-11; 240 ≤ 333.3 − (66.7 − 20)/2 = 310
    (30, (166, 167), (10, 10), False),    # an ASR rise: quick calls thin out, but 333 calls still end
    (30, (157, 157), (15, 15), True),     # 30 ≤ 33.3; P = 3.9e-7; 314 ≤ 333.3 − (66.7 − 30)/2 = 315
    (30, (158, 158), (15, 15), False),    # 316 > 315
    (30, (120, 120), (16, 17), False),    # 33 ≤ 33.3 but P(X ≤ 33 | 66.7) = 3.8e-6 > alpha
    (24, (120, 120), (10, 10), False),    # minutes 6-24: 19 < min_baseline_minutes (20), no share yet
])
def test_recent_vanish_on_quick_calls(history, tens, quick, vanished):
    from cdrflow.incidents.detector import recent_vanish
    # watermark 30:25: the last whole slices are 30:00-30:10 and 30:10-30:20
    assert recent_vanish(recent_state(history, tens, quick), 30 * MINUTE_MS + 25_000, BUSY, T) is vanished


def test_recent_vanish_opens_before_the_minute_shows_it():
    state = {"minutes": recent_state(30, (120, 120), (10, 10)), "judged": 29 * MINUTE_MS}
    [event] = evaluate("tmobile|in", state, 30 * MINUTE_MS + 25_000, BUSY, T)
    # minute 30 alone: 240 seen, 1000 × 25/60 = 416.7 expected (vanished at ≤ 208.3): not on its own
    assert event["event"] == "open" and event["incident"]["kinds"] == ["traffic_vanish"]
    assert event["incident"]["start_ms"] == 30 * MINUTE_MS
    assert event["incident"]["updated_ms"] == 30 * MINUTE_MS + 25_000


def test_partials_count_ten_second_slices_and_quick_calls():
    def rec(n, start_ms, end_ms):
        return {"cdr_id": str(n), "call_id": str(n), "start_ms": start_ms, "end_ms": end_ms, "interconnect": "att",
                "direction": "in", "record_kind": "stop", "cause_class": "user", "q850_cause": 17, "sip_code": 486,
                "pdd_ms": None}
    # ends at 61 s and 69.9 s (slice 0 of minute 1), 75 s (slice 1), 119.9 s (slice 5); quick: under 10 s long
    messages, _ = partial_messages([rec(1, 58_000, 61_000), rec(2, 59_900, 69_900), rec(3, 5_000, 75_000),
                                    rec(4, 110_000, 119_900)])
    p = messages["att|in"]["minutes"]["60000"]
    assert p["tens"] == [2, 1, 0, 0, 0, 1] and p["quick"] == [1, 0, 0, 0, 0, 1]


def test_partial_steps_split_a_take_at_the_judging_cadence():
    def rec(n, end_ms, ic="att"):
        return {"cdr_id": str(n), "call_id": str(n), "start_ms": end_ms - 30_000, "end_ms": end_ms, "interconnect": ic,
                "direction": "in", "record_kind": "stop", "cause_class": "answered", "q850_cause": 16,
                "sip_code": 200, "pdd_ms": None}
    from cdrflow.incidents.partials import partial_steps
    # a take out of order: steps 50-60 s (2 calls), 60-70 s (1 att, 1 lumen), 80-90 s (1); none 70-80 s
    steps = partial_steps([rec(1, 65_000), rec(2, 52_000), rec(3, 89_999), rec(4, 59_999), rec(5, 61_000, "lumen")])
    assert [end for _, end in steps] == [60_000, 70_000, 90_000]
    counts = [{k: sum(p["seizures"] for p in m["minutes"].values()) for k, m in messages.items()}
              for messages, _ in steps]
    assert counts == [{"att|in": 2}, {"att|in": 1, "lumen|in": 1}, {"att|in": 1}]
    assert steps[0][0]["att|in"]["minutes"]["0"]["tens"] == [0, 0, 0, 0, 0, 2]
    # how far each key was seen: the detector dates its decisions no earlier than that
    assert [m["att|in"]["newest_ms"] for m, _ in steps] == [59_999, 65_000, 89_999]
    state = {}
    for offset, (messages, _) in enumerate(steps):
        absorb(state, messages["att|in"], offset)
    assert state["seen_ms"] == 89_999 and state["minutes"]["60000"]["seizures"] == 2
    assert partial_steps([]) == []
