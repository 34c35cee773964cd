"""The simulator is the demo and benchmark source: its records must be valid CDRs, reproducible,
and realistic enough that ASR/NER, fault detection and diurnal baselines have something to find."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timezone
from itertools import islice

import phonenumbers
import pytest
from cdrflow.infra.config import DEMO_INTERCONNECTS, Settings
from cdrflow.producers.simulate import (
    BLOCK,
    DIURNAL_BY_MINUTE,
    Fault,
    SimConfig,
    _Traffic,
    default_config,
    generate,
    interconnect_profile,
    paced,
)
from cdrflow.schemas.causes import classify
from cdrflow.schemas.cdr import CDR, make_cdr_id

HOUR = 3_600_000
# Tuesday 2024-03-12 00:00 in the US home region's simulated local time (UTC-5).
MIDNIGHT = int(datetime(2024, 3, 12, 5, tzinfo=timezone.utc).timestamp() * 1000)
PEAK = MIDNIGHT + 11 * HOUR


def cfg(**kw) -> SimConfig:
    base = dict(seed=7, start_ms=PEAK, calls_per_second=20.0, interconnects=dict(DEMO_INTERCONNECTS))
    return SimConfig(**(base | kw))


def interconnect_of(rec: dict) -> str:
    trunks = DEMO_INTERCONNECTS
    return trunks.get(rec["ingress_trunk"]) or trunks[rec["egress_trunk"]]


def figures(records) -> dict[str, dict[str, float]]:
    """Seizures, ASR, strict NER (DOMAIN.md) and network-cause share per interconnect."""
    by_ic: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        c = by_ic[interconnect_of(r)]
        c["seizures"] += 1
        cls = classify(r["answer_ms"] is not None, r["q850_cause"], r["sip_code"])
        c[cls] += 1
        c["net_34_38_41"] += r["q850_cause"] in (34, 38, 41)
    return {ic: {"seizures": c["seizures"], "asr": c["answered"] / c["seizures"],
                 "ner": (c["answered"] + c["user"]) / c["seizures"],
                 "net_share": c["net_34_38_41"] / c["seizures"]} for ic, c in by_ic.items()}


@pytest.fixture(scope="module")
def peak_hour() -> list[dict]:
    return list(generate(cfg(), until_ms=PEAK + HOUR))


def test_same_seed_same_records_and_prefix_stable():
    a = list(generate(cfg(), count=BLOCK + 500))
    assert a == list(generate(cfg(), count=BLOCK + 500))
    assert a[:700] == list(generate(cfg(), count=700))   # count only truncates
    assert a != list(generate(cfg(seed=8), count=BLOCK + 500))


def test_records_validate_as_cdr_without_enrichment(peak_hour):
    sample = peak_hour[::40]
    for rec in sample:
        assert CDR.model_validate(rec).model_dump() == rec
        assert rec["cdr_id"] == make_cdr_id(rec["source"], rec["native_id"])
        assert rec["source_offset"] == int(rec["native_id"].rsplit("-", 1)[1])
        assert (rec["interconnect"], rec["direction"], rec["cause_class"], rec["calling_e164"],
                rec["called_e164"]) == (None,) * 5
        assert (rec["source_format"], rec["record_kind"], rec["source_file"]) == ("simulator", "stop", "simulator")
    assert len({r["cdr_id"] for r in peak_hour}) == len(peak_hour)
    assert len({r["call_id"] for r in peak_hour}) == len(peak_hour)
    assert len({r["source"] for r in peak_hour}) == 3


def test_timeline_and_causes_are_consistent(peak_hour):
    for r in peak_hour:
        assert r["duration_ms"] == r["end_ms"] - r["start_ms"] >= 0
        if r["answer_ms"] is None:
            assert r["billable_ms"] == 0 and r["sip_code"] != 200
            # the Q.850 cause and the SIP code alone give the same class (RFC 3398 map)
            assert classify(False, r["q850_cause"]) == classify(False, None, r["sip_code"])
        else:
            assert r["start_ms"] < r["answer_ms"] <= r["end_ms"]
            assert r["billable_ms"] == r["end_ms"] - r["answer_ms"]
            assert (r["q850_cause"], r["sip_code"]) == (16, 200)
            assert r["disconnect_initiator"] in ("caller", "callee")
    answered = [r["billable_ms"] for r in peak_hour if r["answer_ms"] is not None]
    acd_s = sum(answered) / len(answered) / 1000
    assert 120 <= acd_s <= 180                                   # ACD ~2-3 min
    assert 0.04 <= sum(b < 6000 for b in answered) / len(answered) <= 0.15
    pdd = sorted(r["pdd_ms"] for r in peak_hour if r["answer_ms"] is not None
                 and interconnect_of(r) in ("verizon", "att"))
    assert 1000 <= pdd[len(pdd) // 10] and pdd[len(pdd) * 9 // 10] <= 4000   # 80 % within 1-4 s
    intl = [r["pdd_ms"] for r in peak_hour if r["answer_ms"] is not None and interconnect_of(r).endswith("-intl")]
    assert sum(intl) / len(intl) > 1.5 * sum(pdd) / len(pdd)


def test_start_ms_non_decreasing_across_blocks(peak_hour):
    starts = [r["start_ms"] for r in peak_hour]
    assert len(starts) > 2 * BLOCK
    assert starts == sorted(starts) and starts[0] >= PEAK and starts[-1] < PEAK + HOUR


def test_healthy_hour_matches_each_interconnect_profile(peak_hour):
    expected = sum(DIURNAL_BY_MINUTE[11 * 60:12 * 60]) * 20 * 60   # peak rate × the daily curve
    assert abs(len(peak_hour) - expected) < 0.02 * expected
    figs = figures(peak_hour)
    assert set(figs) == set(DEMO_INTERCONNECTS.values())
    for ic, f in figs.items():
        assert 0.45 <= f["asr"] <= 0.65, ic
        assert abs(f["asr"] - interconnect_profile(ic).asr) < 0.04, ic
        assert 0.93 <= f["ner"] <= 0.99, ic
        assert f["net_share"] < 0.02, ic
    for ic in DEMO_INTERCONNECTS.values():   # both directions on every interconnect
        dirs = Counter(r["ingress_trunk"] in DEMO_INTERCONNECTS for r in peak_hour if interconnect_of(r) == ic)
        assert dirs[True] > 0.3 * sum(dirs.values()) and dirs[False] > 0.3 * sum(dirs.values())
    customer_side = {r["egress_trunk"] if r["ingress_trunk"] in DEMO_INTERCONNECTS else r["ingress_trunk"]
                     for r in peak_hour}
    assert all(t is None or t.startswith("CUST-") for t in customer_side) and len(customer_side) > 10


def test_faults_change_only_their_interconnect_inside_the_window():
    f_start, f_end = PEAK + 20 * 60_000, PEAK + 40 * 60_000
    faults = (Fault("att", "answer_collapse", f_start, f_end),
              Fault("lumen", "network_causes", f_start, f_end),
              Fault("tmobile", "traffic_vanish", f_start, f_end))
    healthy = list(generate(cfg(), until_ms=PEAK + HOUR))
    faulty = list(generate(cfg(faults=faults), until_ms=PEAK + HOUR))

    def inside(records):
        return figures(r for r in records if f_start <= r["start_ms"] < f_end)

    before, during = inside(healthy), inside(faulty)
    assert during["att"]["asr"] < 0.15 and before["att"]["asr"] > 0.45
    assert during["att"]["seizures"] == before["att"]["seizures"]        # still seizing
    assert during["lumen"]["net_share"] > 0.40 > 0.02 > before["lumen"]["net_share"]
    assert during.get("tmobile", {"seizures": 0})["seizures"] <= 0.02 * before["tmobile"]["seizures"]
    for ic in ("verizon", "bandwidth", "bt-intl"):
        assert abs(during[ic]["asr"] - interconnect_profile(ic).asr) < 0.06

    # Outside the faulted interconnect/window, the very same calls happen.
    def call(r):
        return r["start_ms"], r["call_id"], r["calling_number"], r["q850_cause"], r["end_ms"]
    faulted = {"att", "lumen", "tmobile"}
    untouched = [call(r) for r in healthy if not (f_start <= r["start_ms"] < f_end and interconnect_of(r) in faulted)]
    assert untouched == [call(r) for r in faulty
                         if not (f_start <= r["start_ms"] < f_end and interconnect_of(r) in faulted)]


def test_fault_validation():
    with pytest.raises(ValueError):
        generate(cfg(faults=(Fault("nosuch", "traffic_vanish", PEAK, PEAK + HOUR),)))
    with pytest.raises(ValueError):
        Fault("att", "meltdown", PEAK, PEAK + HOUR)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Fault("att", "traffic_vanish", PEAK, PEAK)
    assert Fault("att", "network_causes", PEAK, PEAK + 1).strength == 0.6


def test_diurnal_night_is_quiet_and_flat_when_disabled():
    day = list(generate(cfg(start_ms=MIDNIGHT, calls_per_second=2.0), until_ms=MIDNIGHT + 24 * HOUR))
    per_hour = Counter((r["start_ms"] - MIDNIGHT) // HOUR for r in day)
    assert per_hour[3] < 0.15 * per_hour[11]
    assert min(per_hour[h] for h in range(10, 17)) > 0.8 * 2.0 * 3600
    flat = Counter((r["start_ms"] - MIDNIGHT) // HOUR
                   for r in generate(cfg(start_ms=MIDNIGHT, calls_per_second=0.5, diurnal=False),
                                     until_ms=MIDNIGHT + 24 * HOUR))
    assert flat[3] > 0.8 * flat[11]


def test_numbers_are_valid_mixed_format_and_repeat(peak_hour):
    sample = peak_hour[::25]
    for r in sample:
        for number in (r["calling_number"], r["called_number"]):
            parsed = phonenumbers.parse(number, "US")
            assert phonenumbers.is_valid_number(parsed), number
    formats = Counter("e164" if n.startswith("+") else "intl" if n.startswith("011") else
                      "nanp1" if len(n) == 11 else "national" for r in sample for n in (r["calling_number"],))
    assert formats["e164"] and formats["nanp1"] and formats["national"]
    intl_called = [r["called_number"] for r in sample
                   if interconnect_of(r).endswith("-intl") and r["ingress_trunk"] not in DEMO_INTERCONNECTS]
    assert {phonenumbers.parse(n, "US").country_code for n in intl_called} == {44, 33, 49}
    outbound_callers = [r["calling_number"] for r in peak_hour if r["ingress_trunk"] not in DEMO_INTERCONNECTS]
    assert len(set(outbound_callers)) < len(outbound_callers) / 5   # a finite subscriber pool


@pytest.mark.parametrize("region", ["US", "GB"])
def test_whole_number_pools_are_valid(region):
    traffic = _Traffic(cfg(home_region=region))
    for e164 in list(traffic.local[::3]) + list(traffic.remote[::30]):
        assert phonenumbers.is_valid_number(phonenumbers.parse(e164)), e164


def test_count_and_until():
    assert len(list(generate(cfg(), count=10))) == 10
    recs = list(generate(cfg(), until_ms=PEAK + 60_000))
    assert recs and all(r["start_ms"] < PEAK + 60_000 for r in recs)
    assert recs == list(generate(cfg(), count=len(recs) + 5))[:len(recs)]


def test_paced_replays_in_scaled_time():
    records = [{"start_ms": t} for t in (1000, 1000, 3000, 5000, 21000)]
    clock = [100.0]
    sleeps = []

    def sleep(s):
        sleeps.append(s)
        clock[0] += s

    out = list(paced(records, speed=10, now=lambda: clock[0], sleep=sleep))
    assert out == records
    assert sum(sleeps) == pytest.approx(2.0)   # 20 s of event time at 10x


def test_paced_yields_history_before_its_clock_at_once():
    records = [{"end_ms": t} for t in (1000, 4000, 9000, 12000)]
    clock, sleeps = [100.0], []

    def sleep(s):
        sleeps.append(s)
        clock[0] += s

    out = list(paced(records, now=lambda: clock[0], sleep=sleep, at="end_ms", clock_ms=10_000))
    assert out == records
    assert sleeps == [pytest.approx(2.0)]     # 1000..9000 are history; only 12000 waits, 2 s after the clock


def test_default_config_from_settings():
    c = default_config(Settings(), seed=3, start_ms=PEAK)
    assert c.interconnects == DEMO_INTERCONNECTS and c.home_region == "US" and c.seed == 3
    assert len(list(islice(generate(c), 5))) == 5


def test_source_pinned_trunks():
    pinned = {"sbc-edge-9/TG-X-01": "xcarrier", "TG-Y-01": "ycarrier"}
    recs = list(generate(cfg(interconnects=pinned), count=3000))
    on_x = [r for r in recs if "TG-X-01" in (r["ingress_trunk"], r["egress_trunk"])]
    assert on_x and {r["source"] for r in on_x} == {"sbc-edge-9"}
    assert all(r["source"] != "sbc-edge-9" for r in recs if "TG-Y-01" in (r["ingress_trunk"], r["egress_trunk"]))


def test_as_written_orders_cdrs_by_end_time_and_keeps_them_all():
    from cdrflow.producers.simulate import as_written

    calls = list(generate(default_config(Settings(), seed=4, calls_per_second=50.0, start_ms=1_795_000_000_000),
                          count=5000))
    written = list(as_written(calls))
    assert sorted(c["cdr_id"] for c in written) == sorted(c["cdr_id"] for c in calls)
    ends = [c["end_ms"] for c in written]
    assert ends == sorted(ends)
