"""Asterisk CDR database exports (format asterisk_export), pinned to hand-written fixtures.

The fixtures under fixtures/asterisk_export were written for these tests from the asteriskcdrdb
`cdr` table's schema and the shapes exporters write (MySQL-style undoubled inner quotes, NULL,
day-first dates); every expected figure is counted by hand from the rows, in the comments.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cdrflow.infra.config import Settings
from cdrflow.producers.asterisk_export import AsteriskExportParser, iso_local, parse_asterisk_export
from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import FileParser, RecordError, SourceContext, UnreadableFile, parse_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_line_contract, assert_wire, parsed_alone

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk_export"
MYSQL = FIXTURES / "asteriskcdrdb_mysql.csv"
FREEPBX = FIXTURES / "freepbx_cdr_report.csv"
HEADERLESS = FIXTURES / "asteriskcdrdb_headerless.csv"
UTC = ZoneInfo("UTC")
CTX = SourceContext(source="pbx-db", source_file="cdr.csv", timezone=UTC)


def read(path: Path, parser=parse_asterisk_export):
    lines = lines_of(path.read_bytes())
    file_parser = parser.for_file(lines[0][1])
    cdrs, failed = parse_lines(file_parser, [line for _, line in lines], 0, CTX)
    for cdr in cdrs:
        assert_wire(cdr)
    return file_parser, cdrs, failed


def test_registered_as_file_parser():
    assert parser_for("asterisk_export") is parse_asterisk_export
    assert isinstance(parse_asterisk_export, FileParser)


def test_mysql_export_with_header_and_site_columns():
    # 6 rows after the header (AcctId 101-106), 28 columns: AcctId + the 26 of the table + sipcallid.
    # answered = disposition ANSWERED: 101 (billsec 60) and 104 (185) → 2, billable 245 s.
    # 102 is NO ANSWER with billsec 38 (Playback answered the caller): unanswered, billable 0.
    # 101 and 104 quote their clid MySQL-style (""Front Desk" <1115>"): 2 repairs, 0 dead letters.
    parser, cdrs, failed = read(MYSQL)
    assert failed == [] and len(cdrs) == 6 and parser.repairs == 2
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, False, True, False, False]
    assert sum(c["billable_ms"] for c in cdrs) == 245_000
    # causes by disposition: ANSWERED 16, NO ANSWER 19, BUSY 17, ANSWERED 16, FAILED 41, NO ANSWER 19
    assert [c["q850_cause"] for c in cdrs] == [16, 19, 17, 16, 41, 19]
    first = cdrs[0]
    # calldate 2023-03-14 09:00:00 UTC = 1678784400; duration 75 s, billsec 60 s: answered at +15 s
    assert (first["start_ms"], first["answer_ms"], first["end_ms"]) == (1_678_784_400_000, 1_678_784_415_000,
                                                                         1_678_784_475_000)
    assert (first["calling_number"], first["called_number"], first["egress_trunk"]) == ("1115", "18005550199",
                                                                                         "carrierA")
    assert first["native_id"] == "1678784400.1/1" and first["correlation_id"] == "1678784400.1"
    assert cdrs[1]["egress_trunk"] is None   # dstchannel NULL
    # egress trunk: carrierA 101, 106 (1 answered); carrierB 103, 104, 105 (1 answered)
    assert Counter(c["egress_trunk"] for c in cdrs) == {"carrierA": 2, "carrierB": 3, None: 1}


def test_freepbx_ui_order_and_extra_columns_mapped_by_a_setting():
    # 4 rows, columns in the UI's order plus tenant and trunk. Answered: 10:00 (80 s), 10:20 (290 s)
    # → 2, billable 370 s; 10:10 is NO ANSWER with billsec 20 (an IVR): unanswered.
    _, cdrs, failed = read(FREEPBX)
    assert failed == [] and len(cdrs) == 4
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, False, True]
    assert sum(c["billable_ms"] for c in cdrs) == 370_000
    # by dstchannel: TG-VZ-01, TG-VZ-01, the extension's "100", TG-ATT-01; tenant ignored
    assert [c["egress_trunk"] for c in cdrs] == ["TG-VZ-01", "TG-VZ-01", "100", "TG-ATT-01"]
    assert {c["tenant"] for c in cdrs} == {None}
    mapped = AsteriskExportParser(Settings(asterisk_export_extra_columns={"trunk": "egress_trunk",
                                                                          "Tenant": "tenant"}))
    _, cdrs, failed = read(FREEPBX, mapped)
    assert failed == []
    assert [c["egress_trunk"] for c in cdrs] == ["TG-VZ-01", "TG-VZ-01", "TG-ATT-01", "TG-ATT-01"]
    assert [c["tenant"] for c in cdrs] == ["acme", "acme", "acme", "beta"]


def test_headerless_day_first_export():
    # 4 rows in the table's order: 26 columns, the last 16 (an older schema, up to userfield).
    # 1/9/2017 16:33:01 is 1 September 2017 (day first) = 1504283581, the row's uniqueid epoch.
    # answered: rows 1 (60 s) and 3 (100 s) → 2, billable 160 s; row 3 repairs ""Sales" <202>".
    parser, cdrs, failed = read(HEADERLESS)
    assert failed == [] and len(cdrs) == 4 and parser.repairs == 1
    for cdr in cdrs:
        assert cdr["start_ms"] == int(cdr["call_id"].split(".")[0]) * 1000
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, True, False]
    assert sum(c["billable_ms"] for c in cdrs) == 160_000
    assert [c["q850_cause"] for c in cdrs] == [16, 19, 16, 17]


def test_month_first_setting():
    assert iso_local("1/9/2017 16:33:01", day_first=True) == "2017-09-01 16:33:01"
    assert iso_local("1/9/2017 16:33:01", day_first=False) == "2017-01-09 16:33:01"
    assert iso_local("2/10/2017 9:05", day_first=True) == "2017-10-02 09:05:00"
    with pytest.raises(RecordError, match="month-first"):
        iso_local("13/9/2017 08:00:00", day_first=False)
    parser, cdrs, failed = read(HEADERLESS, AsteriskExportParser(Settings(asterisk_export_date_order="mdy")))
    # 13/9/2017 has no month 13: that row alone is a dead letter
    assert len(cdrs) == 3 and [reason for _, _, reason in failed] == [
        "bad date '13/9/2017 08:00:00' read month-first (asterisk_export_date_order)"]


HEADER = b"calldate,clid,src,dst,dstchannel,duration,billsec,disposition,uniqueid\n"


def one(row: bytes, header: bytes = HEADER):
    parser = parse_asterisk_export.for_file(header)
    cdrs, failed = parse_lines(parser, [header, row], 0, CTX)
    return parser, cdrs, failed


def test_ambiguous_quotes_are_dead_letters_with_the_reason():
    # the clid holds quote + comma: read leniently it gives 10 columns, not 9
    parser, cdrs, failed = one(b'2023-01-01 00:00:00,""Doe", John" <1>",1,2,SIP/x-1,10,5,ANSWERED,1.1\n')
    assert cdrs == [] and parser.repairs == 0
    assert [reason for _, _, reason in failed] == ["ambiguous quotes: read leniently the row gives 10 columns, "
                                                   "expected 9 columns as in the header"]


def test_backslash_escaped_quotes_are_read():
    parser, cdrs, _ = one(b'2023-01-01 00:00:00,"\\"Doe\\" <1>",1,2,SIP/x-1,10,5,ANSWERED,1.1\n')
    assert len(cdrs) == 1 and parser.repairs == 1 and cdrs[0]["calling_number"] == "1"


def test_null_reads_as_empty():
    _, [cdr], _ = one(b"2023-01-01 00:00:00,NULL,NULL,\\N,NULL,10,0,NO ANSWER,1.1\n")
    assert (cdr["calling_number"], cdr["called_number"], cdr["egress_trunk"]) == ("", "", None)


def test_start_answer_end_columns_are_read_when_present():
    header = b"uniqueid,start,answer,end,billsec,disposition\n"
    _, [cdr], failed = one(b"1.1,2023-01-01 00:00:00,2023-01-01 00:00:04,2023-01-01 00:00:10,6,ANSWERED\n", header)
    assert failed == [] and (cdr["answer_ms"] - cdr["start_ms"], cdr["duration_ms"]) == (4_000, 10_000)


@pytest.mark.parametrize("header, reason", [
    (b"calldate,src,dst\n", "header lacks column(s) uniqueid, billsec, disposition, duration"),
])
def test_a_header_without_the_needed_columns_says_why(header, reason):
    parser = parse_asterisk_export.for_file(header)
    assert isinstance(parser, UnreadableFile) and reason in parser.reason


def test_extra_columns_may_fill_only_text_fields():
    bad = AsteriskExportParser(Settings(asterisk_export_extra_columns={"trunk": "billable_ms"}))
    assert "maps to billable_ms" in bad.for_file(HEADER).reason


GOOD_ROW = b'2023-01-01 00:00:00,""A" <1>",1,2,SIP/x-1,10,5,ANSWERED,1.1'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(line):
    assert_line_contract(parse_asterisk_export.for_file(HEADER), line, 0, CTX)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(GOOD_ROW) - 1), st.binary(min_size=0, max_size=3))
def test_fuzz_mutated_rows(at, insert):
    line = GOOD_ROW[:at] + insert + GOOD_ROW[at + 1:]
    parser = parse_asterisk_export.for_file(HEADER)
    assert_line_contract(parser, line, 0, CTX)
    one_by_one = parsed_alone(parser, line, 0, CTX)
    assert parse_lines(parser, [line + b"\n"], 0, CTX)[0] == one_by_one
