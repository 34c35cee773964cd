"""Cisco CUCM parser, pinned to the real CUCM 15 lab CDR file and to hand-computed values.

Expected figures were read off the file with awk, not with the parser:
  awk -F, 'NR>2{n++; if($48!=0)a++; d+=$56; w+=$49-$5; print $12,$34,$57,$58} END{print n,a,d,w}'
(column 5 dateTimeOrigination, 12 origCause_value, 34 destCause_value, 48 dateTimeConnect,
49 dateTimeDisconnect, 56 duration, 57/58 orig/destDeviceName; no field of the sample holds a
comma) → 3 records, 1 answered, duration sum 11 s, disconnect − origination sum 13 s; causes
(orig, dest): (0, 1459617833) twice — a Cisco-specific code — and (16, 0) once.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.cisco_cucm import CucmFileParser, parse_cisco_cucm
import pytest
from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import CDRRecord, FileParser, RecordError, SourceContext
from cdrflow.schemas.causes import classify, q850_from_cisco
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_wire
from support.fuzz import fuzz_examples

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "samples" / "cisco_cucm" / "cucm15_lab_cdr.txt"
CMR_SAMPLE = SAMPLE.with_name("cucm15_lab_cmr.txt")
CTX = SourceContext(source="cucm-pub", source_file="/var/cdr/cdr_StandAloneCluster_02.txt",
                    timezone=ZoneInfo("America/Los_Angeles"))  # epoch times: the zone must not matter


LINES = lines_of(SAMPLE.read_bytes())
HEADER = LINES[0][1]


def parse_file(path: Path = SAMPLE) -> list[CDRRecord | None]:
    lines = lines_of(path.read_bytes())
    parser = parse_cisco_cucm.for_file(lines[0][1])
    return [parser(line, offset, CTX) for offset, line in lines]


def test_registered_as_file_parser():
    assert parser_for("cisco_cucm") is parse_cisco_cucm
    assert isinstance(parse_cisco_cucm, FileParser)


def test_sample_totals():
    results = parse_file()
    assert results[:2] == [None, None]  # header and type rows
    cdrs = results[2:]
    assert len(cdrs) == 3
    for c in cdrs:
        assert_wire(c)
    assert sum(c["answer_ms"] is not None for c in cdrs) == 1
    assert sum(c["billable_ms"] for c in cdrs) == 11_000
    assert sum(c["duration_ms"] for c in cdrs) == 13_000
    # 1459617833 is above 127: Cisco-specific, no Q.850 cause, and not a network failure
    assert Counter(c["q850_cause"] for c in cdrs) == {None: 2, 16: 1}
    assert [classify(c["answer_ms"] is not None, c["q850_cause"]) for c in cdrs] == ["other", "other", "answered"]
    assert [c["disconnect_initiator"] for c in cdrs] == ["callee", "callee", "caller"]
    assert [c["source_offset"] for c in cdrs] == [4577, 5168, 5759]  # grep -bo '^1,' on the file


def test_sample_answered_call():
    cdr = parse_file()[4]
    assert cdr == {
        # uuid5 of source + pkid, as in schemas/cdr.py; pinned so re-reads keep their ids
        "cdr_id": make_cdr_id("cucm-pub", "ed56fecd-bd2d-48d4-ae03-7ee3766d6048"),
        "source": "cucm-pub", "source_format": "cisco_cucm",
        "native_id": "ed56fecd-bd2d-48d4-ae03-7ee3766d6048",
        "call_id": "2-25447", "correlation_id": None, "record_kind": "stop",
        "start_ms": 1_744_993_928_000, "answer_ms": 1_744_993_930_000, "end_ms": 1_744_993_941_000,
        "duration_ms": 13_000, "billable_ms": 11_000,
        "calling_number": "5033466594", "called_number": "5033466593",
        "calling_e164": None, "called_e164": None,
        "ingress_trunk": "SEPCC7F750586B7", "egress_trunk": "SEPCC8E7148AD29",
        "interconnect": None, "direction": None,
        "q850_cause": 16, "sip_code": None, "cause_class": None, "disconnect_initiator": "caller",
        "pdd_ms": None, "tenant": None, "extension": None,
        "call_class": None, "call_direction": None, "destination": None, "cost": None,   # enrichment's
        "source_file": "/var/cdr/cdr_StandAloneCluster_02.txt", "source_offset": 5759,
    }


def test_sample_unanswered_call():
    cdr = parse_file()[2]
    assert (cdr["answer_ms"], cdr["billable_ms"], cdr["duration_ms"]) == (None, 0, 0)
    assert (cdr["ingress_trunk"], cdr["egress_trunk"], cdr["called_number"]) == ("SEPCC7F750586B7", None, "5030079981")


def test_reading_again_gives_the_same_ids():
    assert [c["cdr_id"] for c in parse_file()[2:]] == [c["cdr_id"] for c in parse_file()[2:]]
    assert len({c["cdr_id"] for c in parse_file()[2:]}) == 3


def test_columns_are_read_by_name():
    # a later release that adds, drops and reorders columns must read the same values
    rows = list(csv.reader(io.StringIO(SAMPLE.read_text())))
    order = list(reversed(range(len(rows[0]) - 3)))  # reversed, the last 3 (device types, session ids) dropped
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[i] for i in order] + ["extra"] for row in rows])
    moved = [line.encode() for line in out.getvalue().splitlines(keepends=True)]
    parser = parse_cisco_cucm.for_file(moved[0])
    got = [parser(line, 0, CTX) for line in moved[2:]]
    want = parse_file()[2:]
    def key(c):
        return c["native_id"], c["start_ms"], c["answer_ms"], c["end_ms"], c["q850_cause"], c["egress_trunk"]

    assert [key(c) for c in got] == [key(c) for c in want]


def test_cmr_file_rows_are_not_calls():
    # a CMR file shares the header convention but lacks the CDR columns: every row says so
    lines = lines_of(CMR_SAMPLE.read_bytes())
    parser = parse_cisco_cucm.for_file(lines[0][1])
    try:
        parser(lines[2][1], lines[2][0], CTX)
    except RecordError as e:
        assert "not its header" in str(e) and "dateTimeOrigination" in str(e)
    else:
        raise AssertionError("a CMR row must not become a CDR")


def test_cisco_cause_table():
    assert [q850_from_cisco(v) for v in (0, 1, 16, 41, 127, 128, 262144, 393216, 1459617833)] == \
           [None, 1, 16, 41, 127, None, None, None, None]
    assert classify(False, q850_from_cisco(393216)) == "other"
    assert classify(False, q850_from_cisco(41)) == "network"


def test_bad_records_say_why():
    parser = parse_cisco_cucm.for_file(HEADER)
    row = next(csv.reader([LINES[4][1].decode()]))
    cases = {
        "dateTimeConnect must be a whole number of epoch seconds": {47: "x"},
        "duration 11 but dateTimeConnect 0": {47: "0"},
        "dateTimeDisconnect 1744993900 is before dateTimeOrigination 1744993928": {48: "1744993900", 47: "0", 55: "0"},
        "dateTimeConnect is outside": {47: "1744993999"},
        "unknown cdrRecordType 'x'": {0: "x"},
        "empty pkid": {50: ""},
        "expected 133 columns as in the header, got 132": {},
    }
    for reason, changes in cases.items():
        bad = [changes.get(i, v) for i, v in enumerate(row)]
        if not changes:
            bad = bad[:-1]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(bad)
        try:
            parser(out.getvalue().encode(), 0, CTX)
        except RecordError as e:
            assert reason in str(e), (reason, str(e))
        else:
            raise AssertionError(reason)


# --- fuzzing --------------------------------------------------------------------------------

SEED_ROWS = [next(csv.reader([line.decode()])) for _, line in LINES]
VALUES = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.sampled_from(["", "0", "1", "2", "128", "4294967295", "9" * 40, "1.5", " 7", "²", "a,b", 'a"b',
                     "\n", "INTEGER", "cdrRecordType", "SEP00", "1744993930"]),
    st.text(max_size=12),
)


@st.composite
def mutated_lines(draw) -> bytes:
    row = list(draw(st.sampled_from(SEED_ROWS)))
    for index, value in draw(st.lists(st.tuples(st.integers(0, 140), VALUES), max_size=5)):
        if index < len(row):
            row[index] = value
    count = draw(st.one_of(st.just(len(row)), st.integers(0, 140)))
    row = (row + ["x"] * 140)[:count]
    if draw(st.booleans()):
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(row)
        text = out.getvalue()
    else:
        text = ",".join(row)
    line = (text + draw(st.sampled_from(["", "\n", "\r\n"]))).encode()
    if draw(st.booleans()):  # and a few raw bytes cut out and put in
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.binary(max_size=3)) + line[at + draw(st.integers(0, 4)):]
    return line


# first lines: the header, one with columns renamed away, the type row, a record row, junk
FIRST_LINES = [HEADER, HEADER.replace(b'"pkid"', b'"pk"').replace(b'"duration"', b'"dur"'),
               LINES[1][1], LINES[2][1], b"", b'"a\n', b"\xff\xfe,\x00\n"]
FILE_PARSERS = [parse_cisco_cucm.for_file(first) for first in FIRST_LINES]


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from([0] * 6 + list(range(len(FILE_PARSERS)))), mutated_lines(), st.integers(0, 2**40))
def test_fuzz_first_line_and_record(first, line, offset):
    """Whatever the first line and the record: a CDR, None or a RecordError, and nothing else."""
    try:
        cdr = FILE_PARSERS[first](line, offset, CTX)
    except RecordError as e:
        assert str(e)
        return
    if cdr is not None:
        assert_wire(cdr)
        assert cdr["start_ms"] <= cdr["end_ms"] and cdr["source_offset"] == offset
        assert cdr["q850_cause"] is None or 1 <= cdr["q850_cause"] <= 127


# --- files without their two header rows ------------------------------------------------------

CUCM_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cisco_cucm"


def parse_headerless(path: Path, release: str = "auto"):
    from cdrflow.producers.parsing import parse_lines

    lines = lines_of(path.read_bytes())
    parser = parse_cisco_cucm.headerless(lines[0][1], release)
    return parse_lines(parser, [line for _, line in lines], 0, CTX)


def test_headerless_cucm_11_by_its_129_columns():
    # 3 rows of 129 columns (CUCM 11.x ends at huntPilotPattern). dateTimeConnect ≠ 0 on rows 1
    # and 3 → 2 answered; duration 60 + 90 = 150 s. Causes (orig, dest): (16, 0), (0, 17), (0, 16).
    cdrs, failed = parse_headerless(CUCM_FIXTURES / "cucm11_headerless_cdr.txt")
    assert failed == [] and len(cdrs) == 3
    for c in cdrs:
        assert_wire(c)
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, True]
    assert sum(c["billable_ms"] for c in cdrs) == 150_000
    assert [c["q850_cause"] for c in cdrs] == [16, 17, 16]
    assert [c["egress_trunk"] for c in cdrs] == ["SIPTrunk-ATT", "SIPTrunk-ATT", "SIPTrunk-VZ"]
    # row 1: origination 1678784400, connect +5 s, disconnect +65 s
    assert (cdrs[0]["start_ms"], cdrs[0]["answer_ms"], cdrs[0]["end_ms"]) == (1_678_784_400_000, 1_678_784_405_000,
                                                                               1_678_784_465_000)


def test_headerless_cucm_15_concatenated_files_by_their_133_columns():
    # two stripped files, 4 rows of 133 columns. Answered (connect ≠ 0): rows 1 (30 s) and 3
    # (45 s) → 2, 75 s. Row 2 dest cause 19 unanswered; row 4 orig cause 16 unanswered (abandoned).
    cdrs, failed = parse_headerless(CUCM_FIXTURES / "cucm15_concatenated_headerless_cdr.txt")
    assert failed == [] and len(cdrs) == 4
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, True, False]
    assert sum(c["billable_ms"] for c in cdrs) == 75_000
    assert [classify(c["answer_ms"] is not None, c["q850_cause"]) for c in cdrs] == \
        ["answered", "user", "answered", "abandoned"]


def test_the_registry_parser_reads_a_headerless_file_by_the_column_count(monkeypatch):
    path = CUCM_FIXTURES / "cucm11_headerless_cdr.txt"
    first = path.read_bytes().splitlines(keepends=True)[0]
    assert isinstance(parse_cisco_cucm.for_file(first), CucmFileParser)
    # a release named by the setting wins: as CUCM 15 (133 columns) every 129-column row is refused
    monkeypatch.setenv("CDRFLOW_CUCM_RELEASE", "15")
    parser = parse_cisco_cucm.for_file(first)
    with pytest.raises(RecordError, match="expected 133 columns as in CUCM 15 .cucm_release. without a header"):
        parser(first, 0, CTX)


def test_an_unknown_column_count_is_refused_with_the_table():
    parser = parse_cisco_cucm.headerless(b"1,2,3\n", "auto")
    assert "3 columns is no release's standard layout (129 (10.x-12.0), 133 (12.5-15)); set cucm_release" \
        in parser.reason
