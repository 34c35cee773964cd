"""AudioCodes SBC syslog CDR parser, pinned to fixtures/audiocodes/sbc_cdr.log.

Its first two lines are the example of AudioCodes' user manual (Mediant 800 MSBR, "CDR Fields
for SBC Signaling": a title line and a CALL_END of a call cancelled before answer, the manual's
line wraps removed, a syslog header put in front); the rest is written the same way by hand: a
two-leg call (SessionId 77) from IP Group 1 "CarrierA" to the nameless IP Group 3 — CALL_START
of both legs, CALL_CONNECT of the ingress leg, CALL_END of both — one unrelated syslog message
and a CALL_END of a call failing with 503. Figures, by hand from the lines:
- CALL_END legs: 4; CALL_CONNECT (interim start): 1; the other 4 lines give None.
- answered legs 2 (ConnectTime set), Durat 60 + 60 → billable 120,000 ms.
- ReleaseTime − SetupTime: 06:14:01.175 − 06:13:54.950 = 6,225; 06:21:05.000 − 06:20:00.150 =
  64,850; − 06:20:00.000 = 65,000; 06:30:00 − 06:29:59 = 1,000 → 137,075 ms.
- TrmReason GWAPP_NORMAL_CALL_CLEAR ×3 (16), GWAPP_NETWORK_TEMPORARY_FAILURE (41);
  SIPTrmReason CANCEL (→ 487), BYE, BYE, 503 → classes abandoned, answered, answered, network.
- 2012-03-02 06:13:54.950 UTC: `date -u -d '2012-03-02 06:13:54' +%s` = 1330668834, so
  1,330,668,834,950 ms.
"""
from __future__ import annotations

import pytest

from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.audiocodes_syslog import (
    DEFAULT_COLUMNS,
    audiocodes_time_ms,
    ip_group,
    parse_audiocodes_syslog,
)
from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import CDRRecord, FileParser, RecordError, SourceContext
from cdrflow.schemas.causes import classify
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_wire
from support.fuzz import fuzz_examples

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "audiocodes" / "sbc_cdr.log"
CTX = SourceContext(source="ac-sbc", source_file="/var/log/sbc/cdr.log", timezone=ZoneInfo("UTC"))


LINES = lines_of(SAMPLE.read_bytes())


def run(lines: list[tuple[int, bytes]]) -> list[CDRRecord | None]:
    parser = parse_audiocodes_syslog.for_file(lines[0][1])
    return [parser(line, offset, CTX) for offset, line in lines]


def test_registered():
    assert parser_for("audiocodes_syslog") is parse_audiocodes_syslog
    assert isinstance(parse_audiocodes_syslog, FileParser)


def test_sample_totals():
    results = run(LINES)
    assert [r is None for r in results] == [True, False, True, True, False, True, False, False, False]
    legs = [r for r in results if r is not None and r["record_kind"] == "stop"]
    assert Counter(r["record_kind"] for r in results if r is not None) == {"stop": 4, "start": 1}
    assert sum(c["answer_ms"] is not None for c in legs) == 2
    assert sum(c["billable_ms"] for c in legs) == 120_000
    assert sum(c["duration_ms"] for c in legs) == 137_075
    assert [(c["q850_cause"], c["sip_code"]) for c in legs] == [(16, 487), (16, None), (16, None), (41, 503)]
    assert [classify(c["answer_ms"] is not None, c["q850_cause"], c["sip_code"]) for c in legs] == \
           ["abandoned", "answered", "answered", "network"]


def test_manual_example():
    cdr = run(LINES)[1]
    native = "170369730753201211288@10.132.10.245/0/CALL_END"
    assert cdr == {
        "cdr_id": make_cdr_id("ac-sbc", native), "source": "ac-sbc", "source_format": "audiocodes_syslog",
        "native_id": native, "call_id": "170369730753201211288@10.132.10.245", "correlation_id": "0",
        "record_kind": "stop", "start_ms": 1_330_668_834_950, "answer_ms": None, "end_ms": 1_330_668_841_175,
        "duration_ms": 6_225, "billable_ms": 0, "calling_number": "103", "called_number": "101",
        "calling_e164": None, "called_e164": None, "ingress_trunk": "ipgroup:2", "egress_trunk": None,
        "interconnect": None, "direction": None, "q850_cause": 16, "sip_code": 487, "cause_class": None,
        "disconnect_initiator": "caller", "pdd_ms": None, "tenant": None, "extension": None,
        "call_class": None, "call_direction": None, "destination": None, "cost": None,   # enrichment's
        "source_file": "/var/log/sbc/cdr.log", "source_offset": LINES[1][0],
    }


def test_legs_of_one_call():
    results = run(LINES)
    outgoing, incoming = results[6], results[7]
    assert outgoing["correlation_id"] == incoming["correlation_id"] == "77"
    assert (incoming["ingress_trunk"], incoming["egress_trunk"], incoming["disconnect_initiator"]) == \
           ("CarrierA", None, "caller")
    assert (outgoing["ingress_trunk"], outgoing["egress_trunk"], outgoing["disconnect_initiator"]) == \
           (None, "ipgroup:3", None)
    connect = results[4]
    assert (connect["record_kind"], connect["answer_ms"] - connect["start_ms"], connect["billable_ms"]) == \
           ("start", 4_500, 0)


def test_without_a_title_the_default_layout_reads_the_lines():
    # a file that starts mid-stream: the default layout (36 fields) reads the shorter 33-field lines
    results = run(LINES[2:])
    assert [r["native_id"] for r in results if r is not None][-1] == "b77@198.51.100.7/78/CALL_END"
    assert DEFAULT_COLUMNS[:3] == ("SBCReportType", "EPTyp", "SIPCallId")


def test_a_title_line_reorders_the_fields():
    title = b"[S=1] |SBCReportType |SIPCallId |SessionId |Orig |SrcURI |DstURI |Durat |TrmSd |TrmReason " \
            b"|SetupTime |ConnectTime |ReleaseTime |IPGroup |SIPTrmReason\n"
    line = b"[S=2] |CALL_END |x@h |9 |LCL |1@h |2@h |0 |RMT |GWAPP_USER_BUSY |10:00:00.000 UTC Mon Jan 01 2024 " \
           b"| |10:00:03.000 UTC Mon Jan 01 2024 |4 (Mobile) |486\n"
    cdr = run([(0, title), (len(title), line)])[1]
    assert (cdr["q850_cause"], cdr["sip_code"], cdr["egress_trunk"], cdr["disconnect_initiator"],
            cdr["duration_ms"]) == \
           (17, 486, "Mobile", "callee", 3_000)


def test_times_and_groups():
    assert audiocodes_time_ms("06:13:54.950 UTC Thu Mar 02 2012", ZoneInfo("UTC")) == 1_330_668_834_950
    assert audiocodes_time_ms("07:13:54.950 CET Thu Mar 02 2012", ZoneInfo("Europe/Berlin")) == 1_330_668_834_950
    assert [ip_group(g) for g in ("2 ()", "1 (CarrierA)", "-1", "", "7")] == \
           ["ipgroup:2", "CarrierA", None, None, "ipgroup:7"]


def test_bad_lines_say_why():
    parser = parse_audiocodes_syslog.for_file(LINES[0][1])
    good = LINES[1][1]
    for line, reason in [(good.replace(b"CALL_END", b"CALL_BEGIN"), "unknown report type"),
                         (good.replace(b"06:13:54.950 UTC", b"06:13:54.950 XYZ"), "time zone 'XYZ'"),
                         (good.replace(b"Thu Mar 02", b"Thu Mrz 02"), "bad time"),
                         (good.replace(b"|0 |RMT |GWAPP", b"|7 |RMT |GWAPP"), "Durat 7 but no ConnectTime"),
                         (good.split(b"|2 ()")[0] + b"\n", "fields, 33 needed"),
                         (b"[S=1] |SBCReportType |SIPCallId\n", "title line lacks field(s)")]:
        try:
            parser(line, 0, CTX)
        except RecordError as e:
            assert reason in str(e), (reason, str(e))
        else:
            raise AssertionError(reason)


# --- firmware 7.2 / 7.4 ------------------------------------------------------------------------

def test_firmware_74_syslog_file():
    """fixtures/audiocodes/sbc_fw74_syslog.log, written by hand in the shapes firmware 7.2/7.4 sends:
    the SBC's own syslog prefix (with and without the "03/14 " date), fixed-width padded fields,
    two spaces inside times, a title with Duration, LegId, IPGroup (name), SIPTermDesc, Caller,
    Callee, and a MediaReportType title with MEDIA_UPDATE / MEDIA_END reports. By hand:
    - 14 lines: 2 titles, 3 CALL_START, 2 CALL_CONNECT, 1 MEDIA_UPDATE, 4 CALL_END, 2 MEDIA_END;
    - CDRs: 2 CALL_CONNECT (start) + 4 CALL_END (stop) = 6; the other 8 lines give None;
    - answered legs: both of session 1001 (ConnectTime set), Duration 62 + 62 → 124,000 ms;
    - 09:12:03.118 → 09:13:10.500 = 67,382 ms twice; 2,000 (busy); 15,000 (cancel) → 151,764 ms;
    - causes: 16/BYE, 16/BYE, 17/486, 16/CANCEL→487: answered, answered, user, abandoned;
    - trunks: RMT legs ingress ITSP (1001, 1002); LCL legs egress IPPBX (1001), ITSP (1003)."""
    results = run(FW74_LINES)
    assert [r is None for r in results] == [True, True, True, True, False, False, True, False, False, True, True,
                                            True, False, False]
    cdrs = [r for r in results if r is not None]
    for c in cdrs:
        assert_wire(c)
    legs = [c for c in cdrs if c["record_kind"] == "stop"]
    assert len(cdrs) == 6 and len(legs) == 4
    assert [c["answer_ms"] is not None for c in legs] == [True, True, False, False]
    assert sum(c["billable_ms"] for c in legs) == 124_000
    assert sum(c["duration_ms"] for c in legs) == 151_764
    assert [classify(c["answer_ms"] is not None, c["q850_cause"], c["sip_code"]) for c in legs] == \
           ["answered", "answered", "user", "abandoned"]
    assert [(c["ingress_trunk"], c["egress_trunk"]) for c in legs] == [("ITSP", None), (None, "IPPBX"),
                                                                     ("ITSP", None), (None, "ITSP")]
    # 2023-03-14 09:12:03.118 UTC: date -u -d '2023-03-14 09:12:03' +%s = 1678785123
    assert legs[0]["start_ms"] == 1_678_785_123_118


def test_media_reports_are_skipped_by_kind_and_keep_the_call_layout():
    parser = parse_audiocodes_syslog.for_file(FW74_LINES[1][1])   # a media title first: not the layout
    assert parser.columns["Durat"] == DEFAULT_COLUMNS.index("Durat")
    skipped = [line for _, line in FW74_LINES if run([(0, FW74_LINES[0][1]), (0, line)])[1] is None]
    kinds = Counter(parser.skip_kind(line.rstrip(b"\n")) for line in skipped)
    assert kinds == {"title line": 1, "media report": 4, "CALL_START report": 3}


def test_two_spaces_inside_times():
    assert audiocodes_time_ms("09:12:03.118  UTC Tue Mar 14 2023", ZoneInfo("UTC")) == 1_678_785_123_118
    assert audiocodes_time_ms("09:12:03.118 UTC Tue Mar  4 2023", ZoneInfo("UTC")) == 1_677_921_123_118


# --- fuzzing --------------------------------------------------------------------------------

FW74 = SAMPLE.with_name("sbc_fw74_syslog.log")
FW74_LINES = lines_of(FW74.read_bytes())
SEED_FIELDS = [line.decode().split("|") for _, line in LINES + FW74_LINES]
VALUE_POOL = ["", " ", "CALL_END", "CALL_CONNECT", "SBCReportType", "RMT", "LCL", "0", "60", "-1", "x", "|", "²",
              "06:13:54.950 UTC Thu Mar 02 2012", "06:13:54 PDT Thu Mar 02 2012", "25:00:00.000 UTC Thu Mar 02 2012",
              "06:13:54.950 UTC Thu Feb 30 2012", "1 (A)", "2 ()", "(", "CANCEL", "999", "486", "GWAPP_USER_BUSY"]


@st.composite
def mutated_lines(draw) -> list[bytes]:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        fields = list(draw(st.sampled_from(SEED_FIELDS)))
        for change in draw(st.lists(st.integers(0, 40 * len(VALUE_POOL) - 1), max_size=3)):
            if change % 40 < len(fields):
                fields[change % 40] = VALUE_POOL[change // 40]
        shape = draw(st.integers(0, 2**24))
        if shape % 5 == 0:
            fields = fields[:shape // 5 % 40]
        line = "|".join(fields).encode()
        if shape % 3 == 0:
            at = shape // 3 % (len(line) + 1)
            line = line[:at] + b"\xff|\n"[: shape // 11 % 4] + line[at + shape // 7 % 4:]
        lines.append(line)
    return lines


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_lines())
def test_fuzz(lines):
    """Any lines through one file's parser (the first also as its first line): CDR, None or RecordError."""
    parser = parse_audiocodes_syslog.for_file(lines[0])
    for line in lines:
        try:
            cdr = parser(line, 11, CTX)
        except RecordError as e:
            assert str(e)
            continue
        if cdr is not None:
            assert_wire(cdr)
            assert cdr["start_ms"] <= cdr["end_ms"] and cdr["source_offset"] == 11
            assert cdr["answer_ms"] is None or cdr["start_ms"] <= cdr["answer_ms"] <= cdr["end_ms"]
