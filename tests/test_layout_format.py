"""Format `layout`: delimited CDR exports read by a declared TOML layout (producers/layout_*.py).

The fixtures under fixtures/layout were written for these tests (never copied from a real
switch); every expected figure is counted by hand from their rows, in the comments. The shipped
layout asterisk_cdrdb is held to the dedicated asterisk_export parser on that format's fixtures.
(tests/test_layout.py is about the repository's folder layering, not this.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from cdrflow.cli.app import app
from cdrflow.infra.config import Settings
from cdrflow.producers.asterisk_export import parse_asterisk_export
from cdrflow.producers.check import check_files
from cdrflow.producers.formats import parser_for
from cdrflow.producers.layout_format import LayoutFile, LayoutFormat, parse_layout
from cdrflow.producers.layout_spec import (FILLABLE, NOT_FILLABLE, LayoutError, load_layout, parse_layout_data,
                                           shipped_layouts)
from cdrflow.schemas.cdr import CDR
from cdrflow.schemas.envelope import decode_batch
from cdrflow.producers.layout_times import TimeFormat, duration_ms
from cdrflow.producers.parsing import FileParser, RecordError, SourceContext, UnreadableFile, parse_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from support.files import lines_of
from support.kafka import read_all
from support.wire import assert_line_contract, assert_wire, parsed_alone

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LAYOUT_FIXTURES = FIXTURES / "layout"
HEADERLESS = LAYOUT_FIXTURES / "asteriskcdrdb_headerless_dmy.csv"
GENERIC = LAYOUT_FIXTURES / "generic_calls.csv"
SEMICOLON = LAYOUT_FIXTURES / "sbc_semicolon.txt"
SEMICOLON_LAYOUT = LAYOUT_FIXTURES / "sbc_semicolon.toml"
UTC = ZoneInfo("UTC")
CTX = SourceContext(source="pbx-1", source_file="cdr.csv", timezone=UTC)
# 2024-06-01 00:00:00 UTC: with a 30-day retention, calls before 2 May 2024 are outside
NOW_MS = 1_717_200_000_000


def read(path: Path, layout, ctx: SourceContext = CTX):
    fmt = LayoutFormat(load_layout(layout)) if isinstance(layout, (str, Path)) else layout
    lines = lines_of(path.read_bytes())
    file_parser = fmt.for_file(lines[0][1])
    cdrs, failed = parse_lines(file_parser, [line for _, line in lines], 0, ctx)
    for cdr in cdrs:
        assert_wire(cdr)
    return file_parser, cdrs, failed


def write_layout(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "layout.toml"
    path.write_text(text)
    return path


def test_registered_and_shipped_layouts_validate():
    # every CDR field is one a layout fills, or one it refuses saying why
    assert sorted(FILLABLE + tuple(NOT_FILLABLE)) == sorted(CDR.model_fields)
    assert parser_for("layout") is parse_layout and isinstance(parse_layout, FileParser)
    assert shipped_layouts() == ["asterisk_cdrdb", "asteriskcdrdb_headerless", "generic_start_end"]
    for name in shipped_layouts():
        assert load_layout(name).fields["start_ms"]
    # with settings, parser_for loads and checks the layout at once
    configured = parser_for("layout", Settings(layout="generic_start_end"))
    assert configured.layout == load_layout("generic_start_end")
    assert "called_number" in configured.fields and "tenant" not in configured.fields


@pytest.mark.parametrize("fixture, records, answered, billable_ms, repairs", [
    # test_asterisk_export: 4 rows, ANSWERED 10:00 (80 s) and 10:20 (290 s)
    ("freepbx_cdr_report.csv", 4, 2, 370_000, 0),
    # 6 rows, ANSWERED 101 (60 s) and 104 (185 s); 101 and 104 quote their clid MySQL-style
    ("asteriskcdrdb_mysql.csv", 6, 2, 245_000, 2),
])
def test_asterisk_cdrdb_layout_gives_the_dedicated_parsers_cdrs(fixture, records, answered, billable_ms, repairs):
    path = FIXTURES / "asterisk_export" / fixture
    parser, cdrs, failed = read(path, "asterisk_cdrdb")
    _, dedicated, dedicated_failed = read(path, parse_asterisk_export)
    assert failed == dedicated_failed == [] and len(cdrs) == records and parser.repairs == repairs
    assert sum(c["answer_ms"] is not None for c in cdrs) == answered
    assert sum(c["billable_ms"] for c in cdrs) == billable_ms
    # every field equal, cdr_id included, but the name of the format that read it
    assert [{**c, "source_format": "asterisk_export"} for c in cdrs] == dedicated
    assert {c["source_format"] for c in cdrs} == {"layout"}


def test_headerless_day_first_layout():
    # 6 rows in the asteriskcdrdb table's order; row 4 stops after userfield (16 columns).
    # Day first: 4/3/2024 09:15:00 is 4 March 2024 = 1709543700, each row's uniqueid epoch.
    # answered = disposition ANSWERED: rows 1 (80 s), 3 (170 s), 6 (45 s) → 3, billable 295 s;
    # row 2 is NO ANSWER with billsec 12 (Playback answered the caller): unanswered, billable 0.
    # row 3's clid ""Front Desk" <300>" is MySQL-style: 1 repair; rows 2, 5, 6 write NULL / \N.
    parser, cdrs, failed = read(HEADERLESS, "asteriskcdrdb_headerless")
    assert failed == [] and len(cdrs) == 6 and parser.repairs == 1
    for cdr in cdrs:
        assert cdr["start_ms"] == int(cdr["call_id"].split(".")[0]) * 1000
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, True, False, False, True]
    assert [c["billable_ms"] for c in cdrs] == [80_000, 0, 170_000, 0, 0, 45_000]
    assert [c["q850_cause"] for c in cdrs] == [16, 19, 16, 17, 41, 16]
    # row 1: calldate + duration 95 s = end; answered billsec 80 s before it, at +15 s
    first = cdrs[0]
    assert (first["answer_ms"] - first["start_ms"], first["end_ms"] - first["start_ms"]) == (15_000, 95_000)
    # the channel peers, as Asterisk names them: the extension 301 and the trunk
    assert (first["calling_number"], first["ingress_trunk"], first["egress_trunk"]) == ("301", "301", "TG-BT-01")
    assert first["native_id"] == "1709543700.1/1" and first["correlation_id"] == "1709543700.1"
    # egress: TG-BT-01 rows 1, 4 (1 answered); TG-DT-02 rows 3, 6 (2 answered); NULL rows 2, 5
    assert Counter(c["egress_trunk"] for c in cdrs) == {"TG-BT-01": 2, "TG-DT-02": 2, None: 2}
    assert cdrs[1]["ingress_trunk"] == "TG-BT-01"
    # the dedicated parser (day first by default) reads the same file to the same CDRs; row 4 has
    # no sequence column, where it makes its native id from the row's digest instead
    _, dedicated, _ = read(HEADERLESS, parse_asterisk_export)
    def same(c):
        return {k: v for k, v in c.items() if k not in ("source_format", "cdr_id", "native_id")}
    assert [same(c) for c in cdrs] == [same(c) for c in dedicated]


def test_generic_start_end_layout():
    # 9 rows after the header. answered = disposition ANSWERED: rows 1 (09:00:00 → 09:03:20,
    # 200 s), 5 (09:10 → 10:10, 3600 s), 7 (quoted fields, 45 s) → 3, billable 3845 s: the layout
    # reads the start as the answer time, and drops it for the 6 calls not answered.
    parser, cdrs, failed = read(GENERIC, "generic_start_end")
    assert failed == [] and len(cdrs) == 9
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, False, False, True, False, True, False, False]
    assert sum(c["billable_ms"] for c in cdrs) == 3_845_000
    # ANSWERED 16, NO ANSWER 19, BUSY 17, CANCELLED 16, ANSWERED, FAILED 41, ANSWERED, REJECTED 21,
    # TIMEOUT unmapped
    assert [c["q850_cause"] for c in cdrs] == [16, 19, 17, 16, 16, 41, 16, 21, None]
    assert [c["duration_ms"] // 1000 for c in cdrs] == [200, 25, 3, 8, 3600, 0, 45, 10, 2]
    assert cdrs[0]["start_ms"] == 1_714_640_400_000 and cdrs[0]["answer_ms"] == cdrs[0]["start_ms"]
    assert cdrs[3]["called_number"] == ""   # "-" is a NULL token of this layout
    # no id column: native id = digest of the row and its offset, call_id the same
    assert cdrs[0]["native_id"].startswith("#") and cdrs[0]["native_id"].endswith("@36")   # the header is 36 bytes
    assert cdrs[0]["call_id"] == cdrs[0]["native_id"] and len({c["cdr_id"] for c in cdrs}) == 9
    # a re-read gives the same ids
    assert [c["cdr_id"] for c in read(GENERIC, "generic_start_end")[1]] == [c["cdr_id"] for c in cdrs]


def test_semicolon_positional_layout_with_zone_epoch_free_features():
    # sbc_semicolon.toml: ';' and "'", headerless, positions, Europe/Berlin, answered by answer time.
    # c1 14.03.2024 10:00:00 CET = 09:00:00Z = 1710406800; answered +5 s, ends +65 s: billable 60 s.
    # c2 has the zero date as answer time (a NULL token of that column): unanswered, 486 → 17.
    # c3 starts 02:59 CEST on 27.10.2024 and ends 02:01 in the repeated hour (CET): 00:59Z → 01:01Z,
    #    2 minutes; answered at +10 s → billable 110 s; its pdd is "-" (NULL).
    # 'c;4' and '4930;113' are quoted with "'"; unanswered, 487 → 16.
    # answered: c1, c3 → 2, billable 170 s; direction "out" is a constant.
    _, cdrs, failed = read(SEMICOLON, SEMICOLON_LAYOUT)
    assert failed == [] and [c["native_id"] for c in cdrs] == ["c1", "c2", "c3", "c;4"]
    c1, c2, c3, c4 = cdrs
    assert (c1["start_ms"], c1["answer_ms"], c1["end_ms"]) == (1_710_406_800_000, 1_710_406_805_000,
                                                                1_710_406_865_000)
    assert (c3["start_ms"], c3["end_ms"], c3["billable_ms"]) == (1_729_990_740_000, 1_729_990_860_000, 110_000)
    assert [c["answer_ms"] is not None for c in cdrs] == [True, False, True, False]
    assert sum(c["billable_ms"] for c in cdrs) == 170_000
    assert [(c["sip_code"], c["q850_cause"], c["pdd_ms"]) for c in cdrs] == [
        (200, 16, 1200), (486, 17, 800), (200, 16, None), (487, 16, 3000)]
    assert c4["calling_number"] == "4930;113" and {c["direction"] for c in cdrs} == {"out"}
    assert [c["egress_trunk"] for c in cdrs] == ["TG-A", "TG-A", "TG-B", "TG-B"]


@pytest.mark.parametrize("fmt, text, expected_ms", [
    ("%d/%m/%Y %H:%M:%S", "1/9/2017 9:05:07", 1_504_256_707_000),             # non-padded, day first
    ("%m/%d/%Y %I:%M:%S %p", "09/01/2017 09:05:07 PM", 1_504_299_907_000),   # 12-hour clock
    ("%a %b %d %Y %H:%M:%S.%f", "Fri Sep  1 2017 09:05:07.25", 1_504_256_707_250),
    ("%Y-%m-%dT%H:%M:%S%z", "2017-09-01T11:05:07+02:00", 1_504_256_707_000),  # its own offset
    ("%FT%T%z", "2017-09-01T09:05:07Z", 1_504_256_707_000),
    ("%y%m%d%H%M%S", "170901090507", 1_504_256_707_000),
    ("epoch", "1504256707", 1_504_256_707_000),
    ("epoch", "1504256707.5", 1_504_256_707_500),
    ("epoch_ms", "1504256707250", 1_504_256_707_250),
    ("epoch_us", "1504256707250999", 1_504_256_707_250),
])
def test_time_formats(fmt, text, expected_ms):
    assert TimeFormat(fmt, "start_ms").ms(text, UTC) == expected_ms


@pytest.mark.parametrize("fmt, text", [
    ("%d/%m/%Y %H:%M:%S", "31/2/2017 09:05:07"), ("%d/%m/%Y %H:%M:%S", "1/9/2017 24:05:07"),
    ("%d/%m/%Y %H:%M:%S", "1/9/2017"), ("%d/%m/%Y %H:%M:%S", "1/9/2017 09:61:00"),
    ("%b %d %Y %H:%M", "Sep 31 2017 09:05"), ("%b %d %Y %H:%M", "Sem 1 2017 09:05"), ("epoch", "-1"),
    ("%m/%d/%Y %I:%M:%S %p", "09/01/2017 13:05:07 PM"),
])
def test_bad_times_are_record_errors_naming_the_field(fmt, text):
    with pytest.raises(RecordError, match="start_ms"):
        TimeFormat(fmt, "start_ms").ms(text, UTC)


def test_duration_units():
    assert duration_ms("65", "s", "d") == 65_000 and duration_ms("65.25", "s", "d") == 65_250
    assert duration_ms("1500", "ms", "d") == 1_500 and duration_ms("1.5", "min", "d") == 90_000
    assert duration_ms("1:02:05", "hms", "d") == 3_725_000 and duration_ms("02:05", "hms", "d") == 125_000
    for text, unit in (("1:2:5", "hms"), ("00:61", "hms"), ("1.5", "ms"), ("-3", "s"), ("3s", "s")):
        with pytest.raises(RecordError, match="^d "):
            duration_ms(text, unit, "d")


BASE = {"fields": {"start_ms": "start", "end_ms": "end", "answer_ms": "start"},
        "answered": {"column": "disposition", "values": ["ANSWERED"]}}


def changed(**top) -> dict:
    data = {**BASE, "fields": dict(BASE["fields"])}
    for key, value in top.items():
        if key.startswith("field_"):
            name = key.removeprefix("field_")
            if value is None:
                del data["fields"][name]
            else:
                data["fields"][name] = value
        else:
            data[key] = value
    return data


@pytest.mark.parametrize("data, problem", [
    (changed(field_caller_number="src"), "fields.caller_number: unknown CDR field 'caller_number'; a layout fills"),
    (changed(field_cause_class="c"), "fields.cause_class: 'cause_class' is filled by enrichment"),
    (changed(field_cdr_id="c"), "fields.cdr_id: 'cdr_id' is set by cdrflow"),
    (changed(field_start_ms=None), "fields.start_ms: missing: a layout needs the call's start time"),
    (changed(field_end_ms=None), "fields: no end_ms and no duration_ms"),
    (changed(field_answer_ms=None), "fields: no answer_ms and no billable_ms"),
    (changed(answered={"values": ["ANSWERED"]}), "answered: the rule references no column"),
    (changed(answered={"column": "disposition"}), "answered: column 'disposition' needs values"),
    (changed(answered={"when": "billable"}),
     "answered.when: 'billable' references no column: fields has no billable_ms"),
    (changed(answered={"when": "ringing"}), "answered.when: Input should be 'answer_time' or 'billable'"),
    (changed(header=False), "fields.start_ms.column: column 'start' is a name, but the file has no header"),
    (changed(header=False, columns=["start", "end"]), "answered.column: column 'disposition' is not among the columns"),
    (changed(header=False, columns=["start", "end"], field_calling_number=3), "fields.calling_number.column: column 3 "
                                                                               "is past the 2 columns listed"),
    (changed(columns=["a"]), "columns, min_columns: only for a file without a header"),
    (changed(field_start_ms={"column": "start", "format": "%d.%m.%Y %H:%q"}), "fields.start_ms.format: "
                                                                               "'%d.%m.%Y %H:%q': %q is not supported"),
    (changed(field_start_ms={"column": "start", "format": "%d.%m. %H:%M"}), "fields.start_ms.format: '%d.%m. %H:%M' "
                                                                             "lacks %Y or %y"),
    (changed(field_start_ms={"column": "start", "unit": "s"}), "fields.start_ms.unit: only for durations"),
    (changed(field_duration_ms={"column": "d", "unit": "hours"}), "fields.duration_ms.unit: Input should be"),
    (changed(field_q850_cause={"column": "c", "map": "causes"}), "fields.q850_cause.map: no [maps.causes]"),
    (changed(field_q850_cause={"column": "c", "map": "m"}, maps={"m": {"BUSY": "17"}}),
     "fields.q850_cause.map: maps.m.BUSY: '17' is not a whole number"),
    (changed(field_sip_code={"value": 99}), "fields.sip_code.value: 99 is outside 100-699"),
    (changed(field_direction={"value": "inbound"}), "fields.direction.value: 'inbound' is not one of in, out"),
    (changed(field_egress_trunk={"column": "t", "pattern": "(a"}), "fields.egress_trunk.pattern: not a regular "
                                                                    "expression"),
    (changed(field_egress_trunk={"column": "t", "value": "x"}), "fields.egress_trunk: give column (where the value"),
    (changed(field_start_ms=["a", "b"]), "fields.start_ms.column: several columns (joined by \"/\") only for a text"),
    (changed(field_start_ms=True), "fields.start_ms.column: True is not a column"),
    (changed(separator=";", quote=";"), "separator, quote: must differ"),
    (changed(separator="||"), "separator: String should have at most 1 character"),
    (changed(timezone="Mars/Olympus"), "timezone: unknown time zone 'Mars/Olympus'"),
    (changed(seperator=";"), "seperator: unknown key"),
    ({"fields": BASE["fields"]}, "answered: missing"),
])
def test_validation_errors_name_the_key_and_the_problem(data, problem):
    with pytest.raises(LayoutError) as raised:
        parse_layout_data(data, "my.toml")
    message = str(raised.value)
    assert message.startswith("layout my.toml is not usable:\n")
    assert any(line.strip().startswith(problem) for line in message.splitlines()), message


def test_layout_files_that_cannot_be_read(tmp_path):
    with pytest.raises(LayoutError, match="not valid TOML"):
        load_layout(write_layout(tmp_path, "fields = {"))
    with pytest.raises(LayoutError, match="no such file, nor a shipped layout .*generic_start_end"):
        load_layout(tmp_path / "missing.toml")
    # the registry's entry reads the setting per file; without one every line says why
    unreadable = LayoutFormat().for_file(b"start,end\n")
    assert isinstance(unreadable, UnreadableFile) and "needs a layout" in unreadable.reason


def test_a_header_without_a_named_column_makes_the_file_unreadable():
    parser = LayoutFormat(load_layout("generic_start_end")).for_file(b"start,end,caller,callee\n")
    assert isinstance(parser, UnreadableFile)
    assert parser.reason == "header lacks column(s) disposition named by the layout"
    cdrs, failed = parse_lines(parser, [b"start,end,caller,callee\n", b"2024-05-02 09:00:00,x,1,2\n"], 0, CTX)
    assert cdrs == [] and [reason for _, _, reason in failed] == [
        "file not readable as layout: header lacks column(s) disposition named by the layout"] * 2


HEADER = b"start,end,caller,callee,disposition\n"
GOOD_ROW = b"2024-05-02 09:00:00,2024-05-02 09:03:20,+442071230001,+493012345678,ANSWERED"


def test_rows_that_do_not_fit_are_dead_letters_with_reason_and_position():
    rows = [HEADER,
            GOOD_ROW + b"\n",                                                        # fine
            b"2024-05-02 09:00:00,2024-05-02 09:03:20,+44207,ANSWERED\n",             # 4 columns
            b"02/05/2024 09:00,2024-05-02 09:03:20,1,2,ANSWERED\n",                   # not the format
            b"2024-05-02 09:00:00,2024-05-02 08:59:59,1,2,NO ANSWER\n",               # ends before start
            b"2024-05-02 09:00:00,2024-05-02 09:00:10,1,2,\"ANSW\"ERED\"\n",          # bad CSV
            b",2024-05-02 09:00:10,1,2,BUSY\n"]                                      # no start
    starts = [0, *accumulate(len(row) for row in rows)]
    cdrs, failed = parse_lines(LayoutFormat(load_layout("generic_start_end")).for_file(HEADER), rows, 0, CTX)
    assert len(cdrs) == 1 and cdrs[0]["source_offset"] == starts[1] == len(HEADER)
    assert failed == [
        (starts[2], rows[2].rstrip(b"\n"), "expected 5 columns as in the header, got 4"),
        (starts[3], rows[3].rstrip(b"\n"), "start_ms: '02/05/2024 09:00' does not match '%Y-%m-%d %H:%M:%S'"),
        (starts[4], rows[4].rstrip(b"\n"), "end_ms is before start_ms"),
        (starts[5], rows[5].rstrip(b"\n"), "bad CSV: ',' expected after '\"'"),
        (starts[6], rows[6].rstrip(b"\n"), "start_ms: empty"),
    ]


def test_an_answered_call_with_a_non_answer_cause_is_a_dead_letter(tmp_path):
    # answered by answer time, cause by disposition: the dialplan answered a NO ANSWER call
    path = write_layout(tmp_path, """
[fields]
start_ms = "start"
answer_ms = "answer"
end_ms = "end"
q850_cause = { column = "disposition", map = "q850" }
[answered]
when = "answer_time"
[maps.q850]
"NO ANSWER" = 19
ANSWERED = 16
""")
    header = b"start,answer,end,disposition\n"
    rows = [header, b"2024-05-02 09:00:00,2024-05-02 09:00:05,2024-05-02 09:00:40,NO ANSWER\n",
            b"2024-05-02 09:00:00,,2024-05-02 09:00:40,NO ANSWER\n"]
    cdrs, failed = parse_lines(LayoutFormat(load_layout(path)).for_file(header), rows, 0, CTX)
    assert [c["q850_cause"] for c in cdrs] == [19]
    assert [reason for _, _, reason in failed] == ["answered, yet its Q.850 cause 19 says the call was not answered"]


def test_answered_by_billable_and_ambiguous_quotes(tmp_path):
    path = write_layout(tmp_path, """
header = false
lenient_quotes = true
columns = ["id", "clid", "start", "secs", "talk"]
[fields]
native_id = "id"
calling_number = "clid"
start_ms = { column = "start", format = "epoch" }
duration_ms = "secs"
billable_ms = "talk"
[answered]
when = "billable"
""")
    rows = [b'1,"x",1714640400,30,20\n',                 # answered 20 s before its end
            b'2,"x",1714640400,30,0\n',                  # billable 0: not answered
            b'3,""Doe" <1>",1714640400,30,0\n',          # MySQL-style quotes: kept, a repair
            b'4,""Doe", J" <1>",1714640400,30,0\n',      # quote + comma inside: 6 columns
            b'5,"x",1714640400,30,31\n']                 # talks longer than the call
    parser = LayoutFormat(load_layout(path)).for_file(rows[0])
    cdrs, failed = parse_lines(parser, rows, 0, CTX)
    assert [(c["native_id"], c["answer_ms"] is not None, c["billable_ms"]) for c in cdrs] == [
        ("1", True, 20_000), ("2", False, 0), ("3", False, 0)]
    assert cdrs[0]["answer_ms"] == 1_714_640_410_000 and cdrs[2]["calling_number"] == '"Doe" <1>'
    assert parser.repairs == 1
    assert [reason for _, _, reason in failed] == [
        "ambiguous quotes: read leniently the row gives 6 columns, expected 5 columns as the layout lists",
        "billable_ms 31 s is longer than the call"]


def test_check_reports_a_layouts_dead_letters_with_line_numbers(tmp_path):
    path = tmp_path / "calls.csv"
    path.write_bytes(GENERIC.read_bytes() + b"2024-05-02 09:40:00,2024-05-02 09:41:00,1,2\n")
    report = check_files([path], LayoutFormat(load_layout("generic_start_end")), 30, UTC, now_ms=NOW_MS)
    # the 9 CDRs of generic_calls.csv (3 answered, 3845 s) and line 11, with 4 columns
    assert (report.lines, report.records, report.answered, report.billable_s) == (11, 9, 3, 3845)
    assert report.dead_letter_reasons == {"expected 5 columns as in the header, got 4": 1}
    assert report.dead_letter_lines == {"expected 5 columns as in the header, got 4": ["calls.csv:11"]}
    assert report.skipped == {"header row": 1}
    # 2 May 2024 09:00 is after the cutoff of 2 May 00:00
    assert report.outside_retention == 0 and report.first_start == "2024-05-02T09:00:00Z"


def test_cli_check_json_with_layout_file_and_shipped_name(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["check", str(HEADERLESS), "--layout", "asteriskcdrdb_headerless", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    # test_headerless_day_first_layout: 6 CDRs, 3 answered, 295 s; no header, nothing skipped
    assert (figures["records"], figures["dead_letters"], figures["answered"], figures["billable_s"]) == (6, 0, 3, 295)
    assert figures["skipped"] == {} and figures["first_start"] == "2024-03-04T09:15:00Z"
    assert figures["last_start"] == "2024-03-31T23:59:59Z"
    assert figures["egress_trunks"] == {"TG-BT-01": {"seizures": 2, "answered": 1},
                                        "TG-DT-02": {"seizures": 2, "answered": 2}}

    result = runner.invoke(app, ["check", str(SEMICOLON), "--layout", str(SEMICOLON_LAYOUT), "--format", "layout",
                                 "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert (figures["records"], figures["answered"], figures["billable_s"]) == (4, 2, 170)
    assert figures["fields_filled"]["pdd_ms"] == 0.75 and figures["fields_filled"]["sip_code"] == 1.0


def test_cli_layout_from_the_setting_and_refusals(tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("CDRFLOW_LAYOUT", "generic_start_end")
    result = runner.invoke(app, ["check", str(GENERIC), "--format", "layout", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["answered"] == 3
    monkeypatch.delenv("CDRFLOW_LAYOUT")
    # a layout that does not validate stops the command and names the key
    bad = write_layout(tmp_path, 'fields = { start_ms = "start", end_ms = "end", answer_ms = "start" }\n'
                                 '[answered]\nvalues = ["ANSWERED"]\n')
    result = runner.invoke(app, ["check", str(GENERIC), "--layout", str(bad)])
    assert result.exit_code == 1 and "answered: the rule references no column" in result.output
    result = runner.invoke(app, ["check", str(GENERIC), "--layout", "generic_start_end", "--format", "asterisk_csv"])
    assert result.exit_code == 1 and "--layout reads files with format layout" in result.output
    result = runner.invoke(app, ["check", str(GENERIC), "--format", "layout"])
    assert result.exit_code == 1 and "needs a layout" in result.output


GENERIC_FORMAT = LayoutFormat(load_layout("generic_start_end"))
HEADERLESS_FORMAT = LayoutFormat(load_layout("asteriskcdrdb_headerless"))
SEMICOLON_FORMAT = LayoutFormat(load_layout(SEMICOLON_LAYOUT))


def generic_parser() -> LayoutFile:
    return GENERIC_FORMAT.for_file(HEADER)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes(line):
    assert_line_contract(generic_parser(), line, 0, CTX)
    assert_line_contract(HEADERLESS_FORMAT.for_file(b"x\n"), line, 0, CTX)
    assert_line_contract(SEMICOLON_FORMAT.for_file(b"x\n"), line, 0, CTX)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(GOOD_ROW) - 1), st.binary(min_size=0, max_size=3))
def test_fuzz_mutated_rows(at, insert):
    line = GOOD_ROW[:at] + insert + GOOD_ROW[at + 1:]
    parser = generic_parser()
    assert_line_contract(parser, line, 0, CTX)
    one_by_one = parsed_alone(parser, line, 0, CTX)
    cdrs, failed = parse_lines(parser, [line + b"\n"], 0, CTX)
    assert cdrs == one_by_one and len(cdrs) + len(failed) == (1 if line.strip() else 0)


SEMICOLON_ROW = SEMICOLON.read_bytes().splitlines()[2]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SEMICOLON_ROW) - 1), st.binary(min_size=0, max_size=3))
def test_fuzz_mutated_semicolon_rows(at, insert):
    line = SEMICOLON_ROW[:at] + insert + SEMICOLON_ROW[at + 1:]
    parser = SEMICOLON_FORMAT.for_file(b"")
    assert_line_contract(parser, line, 0, CTX)
    cdrs, failed = parse_lines(parser, [line + b"\n"], 0, CTX)
    assert len(cdrs) + len(failed) == (1 if line.strip() else 0)


def test_the_documented_example_layout_validates():
    # docs/formats.md's commented example is a layout a user may copy: it must load as it stands
    text = (Path(__file__).resolve().parents[1] / "docs" / "formats.md").read_text()
    example = text.split("## Declared layouts")[1].split("```toml\n")[1].split("```")[0]
    layout = parse_layout_data(tomllib.loads(example), "docs/formats.md")
    assert layout.answered.values == ["ANSWERED"] and layout.timezone == "Europe/Berlin"
    assert layout.null == ["", "NULL", "\\N"] and layout.fields["direction"].value == "out"


def test_ingest_with_layout_publishes_to_the_broker(settings, tmp_path):
    # `cdrflow ingest FILE --layout NAME` on the real (Tansu) broker: generic_calls.csv's 9 CDRs
    # (3 answered) and one dead letter for the appended 4-column row at its byte offset
    path = tmp_path / "calls.csv"
    good = GENERIC.read_bytes()
    path.write_bytes(good + b"2024-05-02 09:40:00,2024-05-02 09:41:00,1,2\n")
    run = subprocess.run([sys.executable, "-m", "cdrflow", "ingest", str(path), "--layout", "generic_start_end",
                          "--source", "pbx-1"], env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "9 CDRs published, 1 dead letters" in run.stdout
    cdrs = [cdr for value in read_all(settings.kafka_bootstrap, settings.topic_cdr_batches, expect=1)
            for cdr in decode_batch(value)]
    assert len(cdrs) == 9 and sum(c["answer_ms"] is not None for c in cdrs) == 3
    assert {c["source_format"] for c in cdrs} == {"layout"} and {c["source"] for c in cdrs} == {"pbx-1"}
    [letter] = [orjson.loads(v) for v in read_all(settings.kafka_bootstrap, settings.topic_dead_letter, expect=1)]
    assert letter["position"] == f"{path}:{len(good)}" and letter["source_format"] == "layout"
    assert letter["reason"] == "expected 5 columns as in the header, got 4"
