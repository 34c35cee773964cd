"""Oracle/Acme Packet SBC parser, pinned to the real per-release position maps
(tests/fixtures/samples/acme_packet_sbc, attribution in SOURCES.md).

The shared samples hold the maps but no CDR lines, so the records here are written by placing
hand-chosen values at the positions those map files give (a record of exactly the map's field
count, every other field empty), and the expected figures follow from the values by hand:
- C6.4 stop, answered: setup 15:54:56.868 PST DEC 18 2017 (the issue's example; `date -u -d
  '2017-12-18 15:54:56 -0800' +%s` = 1513641296 → 1,513,641,296,868 ms), connect 4.5 s later,
  disconnect 65 s after setup; Acct-Session-Time 60 s; Q.850 16, SIP 200, calling party hung up,
  PDD 2,100 ms; realms peer-carrierA → core.
- C6.4 stop, busy: disposition 2 (ringing), no connect time, 7 s, Q.850 17, SIP 486, called party.
- C6.1 stop, failed: "*" (clock not synced) times, 0.5 s, Q.850 41, SIP 503, the SBC cleared it;
  Terminating-Trunk-Group TG_ACME_1 is set and wins over the egress realm.
- D7.1 start: the answered call's interim record, in PDT (−7 h) under a UTC-configured source.
So the three stop records are 3 calls: 1 answered, billable 60,000 ms, durations 65,000 + 7,000
+ 500 = 72,500 ms; classes answered / user / network.
"""
from __future__ import annotations

import pytest

import csv
import io
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.acme_sbc import (
    LAYOUTS,
    POSITIONS_DIR,
    acme_time_ms,
    parse_acme_sbc,
    station_number,
)
from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import RecordError, SourceContext
from cdrflow.schemas.causes import classify
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.wire import assert_wire
from support.fuzz import fuzz_examples

MAPS = Path(__file__).resolve().parent / "fixtures" / "samples" / "acme_packet_sbc"
UTC = ZoneInfo("UTC")
CTX = SourceContext(source="sbc-1", source_file="/opt/sbc/cdr/cdr201712181600", timezone=UTC)
SETUP_MS = 1_513_641_296_868


def positions(name: str) -> dict[str, int]:
    with (MAPS / f"acme_{name}_avp_positions.csv").open(newline="") as fh:
        return {attribute: int(position) for position, attribute, *_ in csv.reader(fh)}


def record(name: str, status: str, **values: str) -> bytes:
    at = positions(name)
    row = [""] * max(at.values())
    row[0] = status
    for attribute, value in values.items():
        row[at[attribute.replace("_", "-")] - 1] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue().encode()


COMMON = {"Acct_Session_Id": "sess-0001", "Acme_Session_Ingress_CallId": "c1@192.0.2.10",
          "Calling_Station_Id": '"Alice" <sip:+17815551234@192.0.2.10>;tag=abc',
          "Called_Station_Id": "<sip:+14155550100@198.51.100.1>",
          "Acme_Session_Ingress_Realm": "peer-carrierA", "Acme_Session_Egress_Realm": "core"}
ANSWERED = record("C640_stop", "2", **COMMON, h323_setup_time="15:54:56.868 PST DEC 18 2017",
                  h323_connect_time="15:55:01.368 PST DEC 18 2017",
                  h323_disconnect_time="15:56:01.868 PST DEC 18 2017", Acct_Session_Time="60",
                  Acme_Session_Disposition="3", Acme_Disconnect_Initiator="1", Acme_Disconnect_Cause="16",
                  Acme_SIP_Status="200", Acme_Post_Dial_Delay="2100")
BUSY = record("C640_stop", "2", **{**COMMON, "Acct_Session_Id": "sess-0002"},
              h323_setup_time="16:00:00.000 PST DEC 18 2017", h323_disconnect_time="16:00:07.000 PST DEC 18 2017",
              Acct_Session_Time="0", Acme_Session_Disposition="2", Acme_Disconnect_Initiator="2",
              Acme_Disconnect_Cause="17", Acme_SIP_Status="486")
FAILED = record("C610_stop", "2", **{**COMMON, "Acct_Session_Id": "sess-0003"},
                h323_setup_time="*16:10:00.100 PST DEC 18 2017", h323_disconnect_time="*16:10:00.600 PST DEC 18 2017",
                Acct_Session_Time="0", Acme_Session_Disposition="1", Acme_Disconnect_Initiator="3",
                Acme_Disconnect_Cause="41", Acme_SIP_Status="503", Acme_Terminating_Trunk_Group="TG_ACME_1")
START = record("D710_start", "1", **COMMON, h323_setup_time="15:54:56.868 PDT JUL 18 2017",
               h323_connect_time="15:55:01.368 PDT JUL 18 2017", Acme_Post_Dial_Delay="2100")
LINES = [ANSWERED, BUSY, FAILED, START]


def test_registered_and_maps_are_the_vendor_maps():
    assert parser_for("acme_sbc") is parse_acme_sbc
    for path in MAPS.glob("acme_*_avp_positions.csv"):
        assert (POSITIONS_DIR / path.name.removeprefix("acme_")).read_bytes() == path.read_bytes()
    assert sorted((status, count, name) for (status, count), (name, _) in LAYOUTS.items()) == [
        ("1", 122, "C640 start"), ("1", 127, "D710 start"), ("2", 169, "C610 stop"), ("2", 175, "C640 stop")]


def test_stop_records():
    cdrs = [parse_acme_sbc(line, 0, CTX) for line in (ANSWERED, BUSY, FAILED)]
    assert sum(c["answer_ms"] is not None for c in cdrs) == 1
    assert sum(c["billable_ms"] for c in cdrs) == 60_000
    assert sum(c["duration_ms"] for c in cdrs) == 72_500
    assert [classify(c["answer_ms"] is not None, c["q850_cause"], c["sip_code"]) for c in cdrs] == \
           ["answered", "user", "network"]
    assert [(c["q850_cause"], c["sip_code"], c["disconnect_initiator"]) for c in cdrs] == \
           [(16, 200, "caller"), (17, 486, "callee"), (41, 503, "network")]
    assert cdrs[2]["egress_trunk"] == "TG_ACME_1" and cdrs[2]["ingress_trunk"] == "peer-carrierA"
    assert cdrs[0] == {
        "cdr_id": make_cdr_id("sbc-1", "sess-0001/stop"), "source": "sbc-1", "source_format": "acme_sbc",
        "native_id": "sess-0001/stop", "call_id": "c1@192.0.2.10", "correlation_id": "sess-0001",
        "record_kind": "stop", "start_ms": SETUP_MS, "answer_ms": SETUP_MS + 4_500, "end_ms": SETUP_MS + 65_000,
        "duration_ms": 65_000, "billable_ms": 60_000,
        "calling_number": "+17815551234", "called_number": "+14155550100", "calling_e164": None, "called_e164": None,
        "ingress_trunk": "peer-carrierA", "egress_trunk": "core", "interconnect": None, "direction": None,
        "q850_cause": 16, "sip_code": 200, "cause_class": None, "disconnect_initiator": "caller",
        "pdd_ms": 2_100, "tenant": None, "extension": None,
        "call_class": None, "call_direction": None, "destination": None, "cost": None,   # enrichment's
        "source_file": "/opt/sbc/cdr/cdr201712181600", "source_offset": 0,
    }


def test_start_record_and_zones():
    start = parse_acme_sbc(START, 5, CTX)
    # date -u -d '2017-07-18 15:54:56 -0700' +%s = 1500418496
    assert (start["record_kind"], start["start_ms"], start["answer_ms"] - start["start_ms"], start["end_ms"],
            start["billable_ms"]) == \
           ("start", 1_500_418_496_868, 4_500, start["answer_ms"], 0)
    assert acme_time_ms("15:54:56.868 PST DEC 18 2017", ZoneInfo("America/Los_Angeles")) == SETUP_MS
    # the configured zone resolves its own names, also the repeated autumn hour (PST after PDT)
    la = ZoneInfo("America/Los_Angeles")
    assert acme_time_ms("01:30:00.000 PST NOV 05 2017", la) - acme_time_ms("01:30:00.000 PDT NOV 05 2017", la) \
        == 3_600_000
    assert acme_time_ms("10:00:00 CET JAN 10 2018", ZoneInfo("Europe/Prague")) == 1_515_574_800_000
    for bad, reason in [("15:54:56.868 IST DEC 18 2017", "time zone 'IST'"), ("15:54:56 PST DEX 18 2017", "bad time")]:
        try:
            acme_time_ms(bad, UTC)
        except RecordError as e:
            assert reason in str(e)
        else:
            raise AssertionError(bad)


def test_station_ids_and_non_calls():
    assert [station_number(s) for s in ('"A" <sip:+1781@h>;tag=1', "sip:1001@h", "<tel:+4930123>", "5551234", "")] == \
           ["+1781", "1001", "+4930123", "5551234", ""]
    assert parse_acme_sbc(b'3,"192.0.2.1",5060,"sess-9"\n', 0, CTX) is None   # interim update
    assert parse_acme_sbc(b'7,"192.0.2.1"\n', 0, CTX) is None                # accounting-on


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(3_000), deadline=None, database=None)
@given(st.lists(st.sampled_from(["<", "sip:", "sips:", "tel:", "@", ";", ">", "+1781", "h", '"A" ', " "]),
                max_size=8).map("".join))
def test_station_numbers_read_without_the_regex_are_the_regexs(station):
    from cdrflow.producers.acme_sbc import _SIP_USER

    m = _SIP_USER.search(station)
    assert station_number(station) == (m.group(1) if m else station.strip())


def test_bad_records_say_why():
    cases = [(ANSWERED.replace(b"PST DEC", b"PST DEX", 1), "bad time"),
             (ANSWERED.replace(b",60,", b",x,", 1), "Acct-Session-Time must be a whole number"),
             (BUSY.replace(b",0,", b",5,", 1), "Acct-Session-Time 5 but the call was not answered"),
             (ANSWERED.replace(b"sess-0001", b"", 1), "empty Acct-Session-Id"),
             (ANSWERED.rstrip(b"\n") + b",x\n", "no position map for Acct-Status-Type '2' with 176 fields"),
             (ANSWERED.replace(b"15:56:01.868", b"15:50:01.868"), "disconnect time is before setup time")]
    for line, reason in cases:
        try:
            parse_acme_sbc(line, 0, CTX)
        except RecordError as e:
            assert reason in str(e), (reason, str(e))
        else:
            raise AssertionError(reason)


# --- fuzzing --------------------------------------------------------------------------------

ROWS = [next(csv.reader([line.decode()])) for line in LINES]
VALUE_POOL = ["", "1", "2", "3", "7", "16", "200", "486", "700", "99999999999", "-1", "x", "²", ",", '"', "\n",
              "15:54:56.868 PST DEC 18 2017", "15:54:56 UTC JAN 01 1970", "25:00:00.000 PST DEC 18 2017",
              "15:54:56.868 PST FEB 30 2017", "*15:54:56.868 EST DEC 18 2017", "15:54:56.868 XYZ DEC 18 2017",
              "<sip:@>", "sip:", "01:30:00.000 PDT NOV 05 2017"]


@st.composite
def mutated_line(draw) -> bytes:
    row = list(draw(st.sampled_from(ROWS)))
    for change in draw(st.lists(st.integers(0, 180 * len(VALUE_POOL) - 1), max_size=4)):
        index, value = change % 180, VALUE_POOL[change // 180]
        if index < len(row):
            row[index] = value
    shape = draw(st.integers(0, 2**24))
    if shape % 5 == 0:
        row = row[:shape // 5 % 180]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    line = out.getvalue().encode()
    if shape % 3 == 0:
        at = shape // 3 % (len(line) + 1)
        line = line[:at] + b'\xff"'[: shape // 11 % 3] + line[at + shape // 7 % 4:]
    return line


ZONES = [CTX, SourceContext("sbc-1", "f", ZoneInfo("America/Los_Angeles"))]


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_line(), st.sampled_from(ZONES))
def test_fuzz(line, ctx):
    """Any record: a CDR, None or a RecordError, and nothing else."""
    try:
        cdr = parse_acme_sbc(line, 3, ctx)
    except RecordError as e:
        assert str(e)
        return
    if cdr is not None:
        assert_wire(cdr)
        assert cdr["start_ms"] <= cdr["end_ms"] and cdr["source_offset"] == 3
        assert cdr["answer_ms"] is None or cdr["start_ms"] <= cdr["answer_ms"] <= cdr["end_ms"]
