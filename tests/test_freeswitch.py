"""FreeSWITCH parsers (mod_json_cdr, mod_cdr_csv default template), pinned to fixtures built from
FreeSWITCH's own documentation, as no real FreeSWITCH CDR file is among the shared samples:
- fixtures/freeswitch/Master.csv is the "Sample CSV CDR" of
  https://developer.signalwire.com/freeswitch/FreeSWITCH-Explained/Configuration/CDR (5 lines,
  verbatim), written with the default template "example" of conf/vanilla/autoload_configs/
  cdr_csv.conf.xml (documented at .../Modules/mod_cdr_csv_6587322): caller_id_name,
  caller_id_number, destination_number, context, start_stamp, answer_stamp, end_stamp, duration,
  billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec, write_codec.
  By eye: 5 calls, none answered (answer_stamp ""), 0 s each, all NORMAL_CLEARING (Q.850 16).
- fixtures/freeswitch/*.cdr.json(l): documents shaped as switch_ivr_generate_json_cdr writes them
  (core-uuid, switchname, channel_data, variables, app_log, callflow[caller_profile, times];
  printed unformatted, values URL-encoded as with the default encode-values=true, see
  .../Modules/mod_json_cdr_4653124), with the variable names of the XML CDR example of
  .../Modules/mod_xml_cdr_6587377. Values chosen by hand, so the figures are:
    leg 1 inbound, answered: start_uepoch 1401382790123456, answer +4.5 s, end +65 s; billmsec
      60500; progressmsec 1200 (progress_mediamsec 0) → PDD 1200; NORMAL_CLEARING; the variable
      sip_term_status written twice, 180 then 200 (the last wins); bridged to sofia/gateway/carrierA.
    leg 2 outbound via gateway carrierA, busy: 7 s, USER_BUSY/17, 486; progress_mediamsec 1800,
      progressmsec 2100 → PDD 1800.
    leg 3 inbound, caller cancel: 8.25 s, ORIGINATOR_CANCEL (hangup_cause_q850 487), 487.
  So 3 legs, 1 answered, billable 60,500 ms, durations 65,000 + 7,000 + 8,250 = 80,250 ms.
"""
from __future__ import annotations

import pytest

import csv
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.formats import parser_for
from cdrflow.producers.freeswitch import (
    gateway_of,
    parse_freeswitch_csv,
    parse_freeswitch_json,
)
from cdrflow.producers.parsing import RecordError, SourceContext
from cdrflow.schemas.causes import classify, q850_from_freeswitch
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_wire
from support.fuzz import fuzz_examples

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "freeswitch"
CTX = SourceContext(source="fs1", source_file="/var/log/freeswitch/json_cdr/legs.cdr.jsonl",
                    timezone=ZoneInfo("UTC"))
START_US = 1_401_382_790_123_456


JSON_LINES = lines_of((FIXTURES / "legs.cdr.jsonl").read_bytes())
CSV_LINES = lines_of((FIXTURES / "Master.csv").read_bytes())


def test_registered():
    assert parser_for("freeswitch_json") is parse_freeswitch_json
    assert parser_for("freeswitch_csv") is parse_freeswitch_csv


def test_json_legs():
    cdrs = [parse_freeswitch_json(line, offset, CTX) for offset, line in JSON_LINES]
    assert len(cdrs) == 3
    assert sum(c["answer_ms"] is not None for c in cdrs) == 1
    assert sum(c["billable_ms"] for c in cdrs) == 60_500
    assert sum(c["duration_ms"] for c in cdrs) == 80_250
    assert [(c["q850_cause"], c["sip_code"], c["pdd_ms"]) for c in cdrs] == \
           [(16, 200, 1200), (17, 486, 1800), (16, 487, None)]
    assert [classify(c["answer_ms"] is not None, c["q850_cause"], c["sip_code"]) for c in cdrs] == \
           ["answered", "user", "abandoned"]
    answered, busy, _ = cdrs
    assert answered == {
        "cdr_id": make_cdr_id("fs1", "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d"),
        "source": "fs1", "source_format": "freeswitch_json",
        "native_id": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d",
        "call_id": "3c26700b-5f8d@203.0.113.5",           # URL-decoded
        "correlation_id": "a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d", "record_kind": "stop",
        "start_ms": START_US // 1000, "answer_ms": START_US // 1000 + 4_500, "end_ms": START_US // 1000 + 65_000,
        "duration_ms": 65_000, "billable_ms": 60_500,
        "calling_number": "+4930123456", "called_number": "4930999",
        "calling_e164": None, "called_e164": None,
        "ingress_trunk": None, "egress_trunk": "carrierA",
        "interconnect": None, "direction": None,
        "q850_cause": 16, "sip_code": 200, "cause_class": None, "disconnect_initiator": None,
        "pdd_ms": 1200, "tenant": None, "extension": None,
        "call_class": None, "call_direction": None, "destination": None, "cost": None,   # enrichment's
        "source_file": "/var/log/freeswitch/json_cdr/legs.cdr.jsonl", "source_offset": 0,
    }
    assert (busy["ingress_trunk"], busy["egress_trunk"], busy["calling_number"]) == (None, "carrierA", "+4930123456")


def test_json_one_document_per_file_without_final_newline():
    path = FIXTURES / "a_a5c9f6c0-e752-11e3-8bfb-65b6c3cdac7d.cdr.json"
    data = path.read_bytes()
    assert not data.endswith(b"\n") and data.count(b"\n") == 0
    assert parse_freeswitch_json(data, 0, CTX) == \
           parse_freeswitch_json(JSON_LINES[0][1], 0, CTX)


def test_json_falls_back_to_epoch_seconds_and_billsec():
    doc = json.loads(JSON_LINES[0][1])
    for name in ("start", "answer", "end"):
        del doc["variables"][f"{name}_uepoch"]
    del doc["variables"]["billmsec"]
    cdr = parse_freeswitch_json(json.dumps(doc).encode(), 0, CTX)
    assert (cdr["start_ms"], cdr["answer_ms"], cdr["end_ms"], cdr["billable_ms"]) == \
           (1_401_382_790_000, 1_401_382_794_000, 1_401_382_855_000, 60_000)


def test_csv_default_template():
    cdrs = [parse_freeswitch_csv(line, offset, CTX) for offset, line in CSV_LINES]
    assert len(cdrs) == 5
    assert sum(c["answer_ms"] is not None for c in cdrs) == 0
    assert sum(c["duration_ms"] for c in cdrs) == 0
    assert {c["q850_cause"] for c in cdrs} == {16}
    assert cdrs[0]["start_ms"] == 1_401_382_790_000  # date -u -d '2014-05-29 16:59:50' +%s
    assert (cdrs[1]["calling_number"], cdrs[1]["called_number"], cdrs[1]["call_id"]) == \
           ("9008", "+34688886392", "e29ff0ae-e752-11e3-8bff-65b6c3cdac7d")
    answered = (b'"Alice","1001","4930999","default","2014-05-29 16:59:50","2014-05-29 16:59:54",'
                b'"2014-05-29 17:00:55","65","61","NORMAL_CLEARING","u-1","u-2","","PCMA","PCMA"\n')
    cdr = parse_freeswitch_csv(answered, 0, SourceContext("fs1", "f", ZoneInfo("Europe/Berlin")))
    assert (cdr["start_ms"], cdr["answer_ms"] - cdr["start_ms"], cdr["duration_ms"], cdr["billable_ms"],
            cdr["correlation_id"]) == \
           (1_401_375_590_000, 4_000, 65_000, 61_000, "u-2")  # 16:59:50 CEST = 14:59:50 UTC


def test_causes_and_gateways():
    assert [q850_from_freeswitch(n) for n in ("NORMAL_CLEARING", "USER_BUSY", "NO_ANSWER", "UNALLOCATED_NUMBER",
                                              "NORMAL_TEMPORARY_FAILURE", "RECOVERY_ON_TIMER_EXPIRE",
                                              "ORIGINATOR_CANCEL", "MEDIA_TIMEOUT")] == \
           [16, 17, 19, 1, 41, 102, 16, None]
    assert q850_from_freeswitch("SOMETHING_NEW", 34) == 34
    assert q850_from_freeswitch("LOSE_RACE", 502) is None
    assert [gateway_of(c) for c in ("sofia/gateway/carrierA/4930", "sofia/external/1@h", "loopback/1", "")] == \
           ["carrierA", None, None, None]


def test_bad_records_say_why():
    doc = json.loads(JSON_LINES[0][1])
    cases = [
        (b"{not json", "bad JSON"),
        (b"[1,2]", "not a mod_json_cdr document"),
        (json.dumps({**doc, "variables": {**doc["variables"], "uuid": ""}}), "empty uuid"),
        (json.dumps({**doc, "variables": {**doc["variables"], "end_uepoch": "1"}}), "is before start"),
        (json.dumps({**doc, "variables": {**doc["variables"], "sip_term_status": "99"}}), "not a SIP status"),
        (json.dumps({**doc, "variables": {**doc["variables"], "billmsec": "1.5"}}), "billmsec must be a whole number"),
        (json.dumps({**doc, "variables": {**doc["variables"], "uuid": ["x"]}}), "variable uuid is not a string"),
    ]
    for raw, reason in cases:
        try:
            parse_freeswitch_json(raw if isinstance(raw, bytes) else raw.encode(), 0, CTX)
        except RecordError as e:
            assert reason in str(e), (reason, str(e))
        else:
            raise AssertionError(reason)
    for raw, reason in [(CSV_LINES[0][1].replace(b',"0","0",', b',"0","5",'), "billsec 5 but no answer"),
                        (b'"a","b"\n', "expected 15 columns"),
                        (CSV_LINES[0][1].replace(b'"2014-05-29 16:59:50","",', b'"2014-05-29 17:59:50","",'),
                         "is before start")]:
        try:
            parse_freeswitch_csv(raw, 0, CTX)
        except RecordError as e:
            assert reason in str(e), (reason, str(e))
        else:
            raise AssertionError(reason)


# --- fuzzing --------------------------------------------------------------------------------

DOCS = [json.loads(line) for _, line in JSON_LINES]
KEYS = ["uuid", "start_uepoch", "answer_uepoch", "end_uepoch", "start_epoch", "billsec", "billmsec",
        "hangup_cause", "hangup_cause_q850", "sip_term_status", "progressmsec", "progress_mediamsec",
        "sip_gateway_name", "bridge_channel", "direction", "sip_call_id", "call_uuid"]
_DELETE = object()
# concrete values, drawn with sampled_from: composite value strategies cost ~1 ms a case here
VALUE_POOL = ["", "0", "1401382790123456", "1401382855123456", "99999999999999999999", "%", "%zz", "%2B1",
              "outbound", "inbound", "486", "700", "sofia/gateway//x", "sofia/gateway/gw/1", "1.5", "-1", "²",
              "NORMAL_CLEARING", "ORIGINATOR_CANCEL", "x\u0000y", "\ud7ff", 0, 7, -5, 10**20, 1.5, None, True,
              [1], {"a": 1}, _DELETE]


SPLICES = st.one_of(st.none(), st.tuples(st.integers(0, 4000),
                                          st.sampled_from([b"", b"\x00", b"\xff\xfe", b'"', b",", b"}"]),
                                          st.integers(0, 4)))


def _splice(line: bytes, splice) -> bytes:
    if splice is None:
        return line
    at, new, cut = splice
    at %= len(line) + 1
    return line[:at] + new + line[at + cut:]


CALLFLOWS = [[], {}, [1], None, "x", [{"caller_profile": 3}]]
SPLICE_BYTES = [b"", b"\x00", b"\xff\xfe", b'"', b",", b"}"]


@st.composite
def json_line(draw) -> bytes:
    # few, flat draws: each draw costs hypothesis far more than the parse (~55 µs)
    doc = dict(draw(st.sampled_from(DOCS)))
    variables = doc["variables"] = dict(doc["variables"])
    for change in draw(st.lists(st.integers(0, len(KEYS) * len(VALUE_POOL) - 1), max_size=3)):
        key, value = KEYS[change % len(KEYS)], VALUE_POOL[change // len(KEYS)]
        if value is _DELETE:
            variables.pop(key, None)
        else:
            variables[key] = value
    shape = draw(st.integers(0, 2**24))
    if shape % 4 == 0:
        doc["callflow"] = CALLFLOWS[shape // 4 % len(CALLFLOWS)]
    line = json.dumps(doc).encode()
    if shape % 3 == 0:
        at = shape // 3 % (len(line) + 1)
        line = line[:at] + SPLICE_BYTES[shape % len(SPLICE_BYTES)] + line[at + shape // 7 % 5:]
    return line


CSV_ROWS = [next(csv.reader([line.decode()])) for _, line in CSV_LINES]
CSV_VALUES = st.sampled_from(["", "2014-05-29 16:59:51", "2014-13-29 16:59:51", "2014-05-29 16:59", "7", "-7",
                              "x", '"', ",", "a\nb", "\u00e9", "NORMAL_CLEARING", "USER_BUSY", "99999999999"])


@st.composite
def csv_line(draw) -> bytes:
    fields = list(draw(st.sampled_from(CSV_ROWS)))
    for index, value in draw(st.lists(st.tuples(st.integers(0, 16), CSV_VALUES), max_size=3)):
        if index < len(fields):
            fields[index] = value
    return _splice(",".join(f'"{f}"' for f in fields).encode() + b"\n", draw(SPLICES))


def _check(parser, line: bytes) -> None:
    try:
        cdr = parser(line, 7, CTX)
    except RecordError as e:
        assert str(e)
        return
    if cdr is not None:
        assert_wire(cdr)
        assert cdr["start_ms"] <= cdr["end_ms"] and cdr["source_offset"] == 7
        assert cdr["answer_ms"] is None or cdr["start_ms"] <= cdr["answer_ms"] <= cdr["end_ms"]
        assert cdr["q850_cause"] is None or 1 <= cdr["q850_cause"] <= 127


FUZZ = settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.fuzz
@FUZZ
@given(json_line())
def test_fuzz_json(line):
    """Any document: a CDR, None or a RecordError, and nothing else."""
    _check(parse_freeswitch_json, line)


@pytest.mark.fuzz
@FUZZ
@given(csv_line())
def test_fuzz_csv(line):
    _check(parse_freeswitch_csv, line)
