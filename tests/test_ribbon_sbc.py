"""Ribbon/Sonus SBC parser, pinned to the real GSX START/STOP/ATTEMPT records and the SBC Core
12.01.06 field index (tests/fixtures/samples/ribbon_sonus_sbc, attribution in SOURCES.md).

Expected figures were read off the file by hand (`awk -F, '{print $1, $6, $7, ...}'` is wrong
for these lines — their protocol variant data are quoted and hold commas — so the fields were
counted with Python's csv module, which only splits; positions from the field index):
- START (172 fields): start 02/22/2013 17:02:12.5 at GMT-08:00 → `date -u -d '2013-02-22
  17:02:12 -0800' +%s` = 1361581332, so 1,361,581,332,500 ms; setup → alerting 16 ticks = 160 ms
  (PDD), setup → service established 511 ticks = 5,110 ms → answer 1,361,581,337,610.
- STOP (223 fields): the same call (Accounting ID 0x0001042B00000012); disconnect 17:02:20.7 →
  8,200 ms after the start; call service duration 306 ticks = 3,060 ms; reason 16; initiator 2
  (called party); ingress TG NBS_TRUSTED_ABCASX1, egress TG NBSPUBSIP_ON_SIF93.
- ATTEMPT (186 fields): 0x0001042B00000010, 17:02:11.6 → 17:02:11.8 = 200 ms, never alerted,
  reason 21 (call rejected), initiator 2; calling 15307520010, called 5307520014.
So 3 records, 2 of them final (seizures), 1 answered, billable 3,060 ms.
"""
from __future__ import annotations

import pytest

import csv
import io
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import CDRRecord, RecordError, SourceContext
from cdrflow.producers.ribbon_sbc import (
    ATTEMPT_END_DATE,
    LAYOUTS,
    MIN_FIELDS,
    parse_ribbon_sbc,
)
from cdrflow.schemas.causes import classify
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_wire
from support.fuzz import fuzz_examples

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples" / "ribbon_sonus_sbc"
SAMPLE = SAMPLES / "ribbon_gsx_start_stop_attempt.csv"
FIELD_INDEX = SAMPLES / "ribbon_sbc_cdr_field_index.csv"
CTX = SourceContext(source="gsx-1", source_file="/var/log/sonus/1000001.ACT", timezone=ZoneInfo("UTC"))
START_MS = 1_361_581_332_500


LINES = lines_of(SAMPLE.read_bytes())
ROWS = [next(csv.reader([line.decode()])) for _, line in LINES]


def parse_all(ctx: SourceContext = CTX) -> list[CDRRecord]:
    return [parse_ribbon_sbc(line, offset, ctx) for offset, line in LINES]


def line_of(fields: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue().encode()


def test_registered():
    assert parser_for("ribbon_sbc") is parse_ribbon_sbc


def test_layout_is_the_vendor_field_index():
    # the positions read are those of the SBC Core 12 index, and hold the same values in the GSX sample
    index = {(r["record_type"], int(r["field_no"])): r["field_name"] for r in csv.DictReader(FIELD_INDEX.open())}
    names = {"gateway": "Gateway Name", "accounting_id": "Accounting ID", "zone": "Node Time Zone",
             "start_date": "Start Time (Date)", "start_time": "Start Time (Time)",
             "alerting": "Time Elapsed from Receipt of Setup Message to Receipt of Alerting/ProcProg",
             "established": "Time Elapsed from Receipt of Setup Message to Service Established",
             "end_date": "Disconnect Time (Date)", "end_time": "Disconnect Time (Time)",
             "service_duration": "Call Service Duration", "reason": "Call Disconnect Reason",
             "calling": "Calling Number", "called": "Called Number", "route_attempt": "Route Attempt Number",
             "route": "Route Selected", "ingress_tg": "Ingress Trunk Group Name",
             "ingress_signaling": "Ingress Protocol Variant Specific Data",
             "initiator": "Disconnect Initiator", "egress_tg": "Egress Trunk Group Name"}
    for kind, layout in LAYOUTS.items():
        for name, position in layout.items():
            assert index[(kind, position)] == names[name], (kind, name)
    assert index[("ATTEMPT", ATTEMPT_END_DATE)] == "Disconnect Time (Date)"
    # field counts: GSX sample vs SBC Core 12 (version drift), all above what is read
    assert [len(r) for r in ROWS] == [172, 223, 186]
    assert {k: sum(1 for t, _ in index if t == k) for k in LAYOUTS} == {"START": 191, "STOP": 301, "ATTEMPT": 217}
    assert all(len(r) >= MIN_FIELDS[r[0]] for r in ROWS)


def test_sample_records():
    start, stop, attempt = parse_all()
    assert [c["record_kind"] for c in (start, stop, attempt)] == ["start", "stop", "attempt"]
    assert stop == {
        "cdr_id": make_cdr_id("gsx-1", "ABCGSX1/0x0001042B00000012/STOP/1"),
        "source": "gsx-1", "source_format": "ribbon_sbc",
        "native_id": "ABCGSX1/0x0001042B00000012/STOP/1",
        "call_id": "1212381174405161289093_12979976@10.158.10.170",
        "correlation_id": "ABCGSX1/0x0001042B00000012", "record_kind": "stop",
        "start_ms": START_MS, "answer_ms": START_MS + 5_110, "end_ms": START_MS + 8_200,
        "duration_ms": 8_200, "billable_ms": 3_060,
        "calling_number": "", "called_number": "5307520014",
        "calling_e164": None, "called_e164": None,
        "ingress_trunk": "NBS_TRUSTED_ABCASX1", "egress_trunk": "NBSPUBSIP_ON_SIF93",
        "interconnect": None, "direction": None,
        "q850_cause": 16, "sip_code": None, "cause_class": None, "disconnect_initiator": "callee",
        "pdd_ms": 160, "tenant": None, "extension": None,
        "call_class": None, "call_direction": None, "destination": None, "cost": None,   # enrichment's
        "source_file": "/var/log/sonus/1000001.ACT", "source_offset": 1280,
    }
    # START is interim: answered, nothing billed yet, same call
    assert (start["correlation_id"], start["call_id"]) == (stop["correlation_id"], stop["call_id"])
    assert (start["start_ms"], start["answer_ms"], start["end_ms"], start["billable_ms"], start["pdd_ms"]) == \
           (START_MS, START_MS + 5_110, START_MS + 5_110, 0, 160)
    assert (attempt["start_ms"], attempt["end_ms"], attempt["duration_ms"], attempt["answer_ms"],
            attempt["pdd_ms"]) == \
           (1_361_581_331_600, 1_361_581_331_800, 200, None, None)
    assert (attempt["q850_cause"], attempt["disconnect_initiator"], attempt["calling_number"],
            attempt["called_number"]) == \
           (21, "callee", "15307520010", "5307520014")
    assert (attempt["ingress_trunk"], attempt["egress_trunk"]) == ("NBSPUBSIP_ON_SIF93", "NBS_TRUSTED_ABCASX1")
    finals = [c for c in (start, stop, attempt) if c["record_kind"] != "start"]
    assert [classify(c["answer_ms"] is not None, c["q850_cause"]) for c in finals] == ["answered", "user"]
    assert len({c["cdr_id"] for c in (start, stop, attempt)}) == 3
    assert [c["cdr_id"] for c in parse_all()] == [c["cdr_id"] for c in (start, stop, attempt)]


def test_node_zone_and_configured_zone():
    # configured zone with the same standard offset: its DST rules apply (summer is GMT-07:00)
    la = SourceContext("gsx-1", "f", ZoneInfo("America/Los_Angeles"))
    assert [c["start_ms"] for c in parse_all(la)] == [c["start_ms"] for c in parse_all()]
    summer = list(ROWS[1])
    summer[5] = summer[10] = "07/22/2013"
    got = parse_ribbon_sbc(line_of(summer), 0, la)
    assert got["start_ms"] == 1_374_537_732_500  # date -u -d '2013-07-22 17:02:12 -0700' +%s
    # a configured zone that disagrees with the record: the record's offset wins
    prague = SourceContext("gsx-1", "f", ZoneInfo("Europe/Prague"))
    assert parse_ribbon_sbc(LINES[1][1], 0, prague)["start_ms"] == START_MS


def test_older_release_and_attempt_across_midnight():
    # a release with fewer fields (no ATTEMPT disconnect date): the end falls on the next day
    attempt = ROWS[2][:MIN_FIELDS["ATTEMPT"]]
    attempt[6], attempt[9] = "23:59:59.9", "00:00:00.4"
    cdr = parse_ribbon_sbc(line_of(attempt), 0, CTX)
    assert cdr["duration_ms"] == 500
    # a newer release that appends fields reads the same values
    longer = [parse_ribbon_sbc(line_of(row + ["x"] * 80), 0, CTX) for row in ROWS]
    assert [(c["start_ms"], c["end_ms"], c["q850_cause"]) for c in longer] == \
           [(c["start_ms"], c["end_ms"], c["q850_cause"]) for c in parse_all()]


def test_route_gives_the_egress_trunk_and_non_calls_are_skipped():
    row = list(ROWS[2])
    row[57] = ""  # no egress TG name: the trunk group of route "GW:TG"
    assert parse_ribbon_sbc(line_of(row), 0, CTX)["egress_trunk"] == "NBS_TRUSTED_ABCASX1"
    for kind in ("INTERMEDIATE", "EVENT", "REBOOT", "SWITCHOVER"):
        assert parse_ribbon_sbc(f"{kind},ABCGSX1,0x1\n".encode(), 0, CTX) is None


def test_bad_records_say_why():
    cases = [
        (1, {0: "STOPP"}, "unknown record type 'STOPP'"),
        (1, {4: "Pacific"}, "node time zone 'Pacific' does not start GMT+HH:MM"),
        (1, {5: "2013-02-22"}, "bad date"),
        (1, {11: "17:02"}, "bad time"),
        (1, {11: "17:02:10.0"}, "disconnect time '17:02:10.0' is before start time"),
        (1, {13: "-1"}, "call service duration must be a whole number of 10 ms ticks"),
        (1, {14: "x"}, "disconnect reason must be a whole number"),
        (1, {2: ""}, "empty gateway name or accounting ID"),
    ]
    for index, changes, reason in cases:
        row = [changes.get(i, v) for i, v in enumerate(ROWS[index])]
        try:
            parse_ribbon_sbc(line_of(row), 0, CTX)
        except RecordError as e:
            assert reason in str(e), (reason, str(e))
        else:
            raise AssertionError(reason)
    try:
        parse_ribbon_sbc(line_of(ROWS[1][:60]), 0, CTX)
    except RecordError as e:
        assert "STOP record has 60 fields, expected at least 68" in str(e)


# --- fuzzing --------------------------------------------------------------------------------

# concrete values and flat integer draws: each hypothesis draw costs far more than the parse
VALUE_POOL = ["", "START", "STOP", "ATTEMPT", "EVENT", "0", "16", "999", "1000", "9" * 30, "-1", "x",
              "02/22/2013", "02/30/2013", "13/01/2013", "17:02:12.5", "24:00:00.0", "17:02:12.55", "00:00:00.0",
              "GMT+14:00-x", "GMT-23:59-x", "GMT+05:30", "²", "SIP,", "SIP,a", "a,b", 'a"b', "\n", "GW:", ":"]


@st.composite
def mutated_line(draw) -> bytes:
    row = list(draw(st.sampled_from(ROWS)))
    for change in draw(st.lists(st.integers(0, 110 * len(VALUE_POOL) - 1), max_size=4)):
        if change % 110 < len(row):
            row[change % 110] = VALUE_POOL[change // 110]
    shape = draw(st.integers(0, 2**24))
    if shape % 4 == 0:
        row = (row + ["x"] * 230)[:shape // 4 % 231]
    line = line_of(row)
    if shape % 3 == 0:
        at = shape // 3 % (len(line) + 1)
        line = line[:at] + b'\xff"\n'[: shape // 11 % 4] + line[at + shape // 7 % 5:]
    return line


ZONES = [CTX, SourceContext("gsx-1", "f", ZoneInfo("America/Los_Angeles")),
         SourceContext("gsx-1", "f", ZoneInfo("Asia/Kolkata"))]


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_line(), st.sampled_from(ZONES), st.integers(0, 2**40))
def test_fuzz(line, ctx, offset):
    """Any record: a CDR, None or a RecordError, and nothing else."""
    try:
        cdr = parse_ribbon_sbc(line, offset, ctx)
    except RecordError as e:
        assert str(e)
        return
    if cdr is not None:
        assert_wire(cdr)
        assert cdr["start_ms"] <= cdr["end_ms"] and cdr["source_offset"] == offset
        assert cdr["answer_ms"] is None or cdr["start_ms"] <= cdr["answer_ms"] <= cdr["end_ms"]
        assert cdr["q850_cause"] is None or 1 <= cdr["q850_cause"] <= 127
