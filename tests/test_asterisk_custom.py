"""Asterisk cdr_custom parser (format asterisk_custom), column order from config.

fixtures/asterisk_custom/Master.csv is written as cdr_custom writes it with the Master.csv mapping
of Asterisk's configs/samples/cdr_custom.conf.sample (the default of asterisk_custom_columns):
clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, start, answer, end, duration,
billsec, disposition, amaflags, accountcode, uniqueid, userfield — each through CSV_QUOTE() — then
sequence unquoted. Eight calls on 2024-03-01 (UTC; 10:00:00 = epoch 1709287200, the epoch the
uniqueids start with): answered, no answer, busy, a forked call (a leg that ran Answer() but
talked 0 s, then the answered leg), congestion, failed, and an answered call whose caller name is
Latin-1. The expectations below are counted from the file by hand.
"""
from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cdrflow.infra.config import ASTERISK_CUSTOM_SAMPLE_COLUMNS, Settings
from cdrflow.producers.asterisk_custom import (
    AsteriskCustomParser,
    parse_asterisk_custom,
)
from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import (
    FileParser,
    RecordError,
    SourceContext,
    UnreadableFile,
    parse_lines,
)
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_line_contract, assert_wire
from support.fuzz import fuzz_examples

SAMPLE = Path(__file__).parent / "fixtures" / "asterisk_custom" / "Master.csv"
CTX = SourceContext("pbx-hq", "/var/log/asterisk/cdr-custom/Master.csv", ZoneInfo("UTC"))
T0 = 1_709_287_200_000   # 2024-03-01 10:00:00 UTC
# an advanced mapping: a literal, the f (decimal seconds) and noquote / uservar qualifiers
ADVANCED = ("clid", '"Some Literal"', "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
            "lastdata", "start", "answer", "end", "duration(f)", "billsec(f)", "disposition", "amaflags",
            "accountcode", "uniqueid(noquote)", "userfield", "sequence", "ds_type(uservar)")
ADVANCED_LINE = (b'"""Bob"" <300>","Some Literal","300","4930123456","from-internal","PJSIP/300-00000001",'
                 b'"PJSIP/TG-DTAG-01-00000002","Dial","PJSIP/TG-DTAG-01/4930123456","2024-03-01 12:00:00",'
                 b'"2024-03-01 12:00:03","2024-03-01 12:01:04","64.250000","61.125000","ANSWERED",'
                 b'"DOCUMENTATION","",1709294400.50,"",30,"premium"\n')
MINIMAL = ("start", "answer", "end", "billsec", "uniqueid", "linkedid", "src", "dst")
MINIMAL_LINE = b'"2024-03-01 10:00:00","","2024-03-01 10:00:30","0","1709287200.60","1709287200.59","100","200"\n'


def parse_sample() -> list:
    parser = parse_asterisk_custom.for_file(SAMPLE.read_bytes().splitlines(keepends=True)[0])
    return [parser(line, offset, CTX) for offset, line in lines_of(SAMPLE.read_bytes())]


def parse_with(columns, line: bytes, offset: int = 0, ctx: SourceContext = CTX):
    return AsteriskCustomParser(columns).for_file(line)(line, offset, ctx)


def test_default_columns_are_the_cdr_custom_sample_mapping():
    assert Settings().asterisk_custom_columns == list(ASTERISK_CUSTOM_SAMPLE_COLUMNS)
    assert len(ASTERISK_CUSTOM_SAMPLE_COLUMNS) == 19
    assert isinstance(parse_asterisk_custom, FileParser)
    assert parser_for("asterisk_custom") is parse_asterisk_custom


def test_sample_totals():
    cdrs = parse_sample()
    assert len(cdrs) == 8
    for cdr in cdrs:
        assert_wire(cdr)
        assert cdr["source_format"] == "asterisk_custom"
    # answered: Alice (60 s), the forked call's answered leg (120 s), Müller (300 s); the leg
    # that ran Answer() with 0 s talk time and NO ANSWER is not
    assert sum(c["answer_ms"] is not None for c in cdrs) == 3
    assert sum(c["billable_ms"] for c in cdrs) == 480_000
    assert sum(c["duration_ms"] for c in cdrs) == 560_000   # 65+30+4+21+128+0+2+310 s
    assert Counter(c["q850_cause"] for c in cdrs) == {16: 3, 19: 2, 17: 1, 34: 1, 41: 1}
    assert [c["native_id"] for c in cdrs] == [
        "1709287200.42/17", "1709287320.43/18", "1709287380.44/19", "1709287500.45/20",
        "1709287500.45/21", "1709287800.46/22", "1709287860.47/23", "1709288400.48/24"]
    assert len({c["cdr_id"] for c in cdrs}) == 8
    for cdr in cdrs:   # the uniqueid starts with the epoch second the channel was created
        assert cdr["start_ms"] == int(cdr["call_id"].split(".")[0]) * 1000
    assert [(c["ingress_trunk"], c["egress_trunk"]) for c in cdrs] == [
        ("carrierA", "100"), ("TG-VZ-01", "101"), ("carrierA", None), ("carrierA", "100"),
        (None, "i1"), ("peer", None), ("TG-VZ-01", None), ("10.0.0.1", "TG-ATT-01")]
    assert [c["source_offset"] for c in cdrs] == [offset for offset, _ in lines_of(SAMPLE.read_bytes())]


def test_sample_first_row():
    cdr = parse_sample()[0]
    assert cdr == {
        "cdr_id": make_cdr_id("pbx-hq", "1709287200.42/17"), "source": "pbx-hq",
        "source_format": "asterisk_custom", "native_id": "1709287200.42/17", "call_id": "1709287200.42",
        "correlation_id": None, "record_kind": "stop",
        "start_ms": T0, "answer_ms": T0 + 5_000, "end_ms": T0 + 65_000, "duration_ms": 65_000,
        "billable_ms": 60_000, "calling_number": "2125551000", "called_number": "18005550199",
        "calling_e164": None, "called_e164": None, "ingress_trunk": "carrierA", "egress_trunk": "100",
        "interconnect": None, "direction": None, "q850_cause": 16, "sip_code": None, "cause_class": None,
        "disconnect_initiator": None, "pdd_ms": None, "tenant": None, "extension": None,
        "call_class": None, "call_direction": None, "destination": None, "cost": None,
        "source_file": "/var/log/asterisk/cdr-custom/Master.csv", "source_offset": 0,
    }


def test_same_row_means_the_same_as_cdr_csv():
    # cdr_csv's 21-column row of the forked call's answered leg: accountcode first, the rest moved
    from cdrflow.producers.asterisk_csv import parse_asterisk_csv

    row = next(csv.reader([SAMPLE.read_bytes().splitlines()[4].decode()]))
    named = dict(zip(ASTERISK_CUSTOM_SAMPLE_COLUMNS, row))
    order = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
             "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid",
             "userfield")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([named[n] for n in order] + ["", "", named["sequence"]])
    custom, plain = parse_sample()[4], parse_asterisk_csv(out.getvalue().encode(), 0, CTX)
    differ = {"cdr_id", "source_format", "source_offset"}
    assert {k: v for k, v in custom.items() if k not in differ} == {k: v for k, v in plain.items() if k not in differ}
    assert custom["cdr_id"] == plain["cdr_id"]   # same source and native id: one call, deduplicated


def test_advanced_mapping_with_literal_and_qualifiers():
    cdr = parse_with(ADVANCED, ADVANCED_LINE)
    assert_wire(cdr)
    t = 1_709_294_400_000   # 12:00:00 UTC
    assert (cdr["start_ms"], cdr["answer_ms"], cdr["end_ms"]) == (t, t + 3_000, t + 64_000)
    # duration(f) and billsec(f) as written, to the ms
    assert (cdr["duration_ms"], cdr["billable_ms"]) == (64_250, 61_125)
    assert (cdr["calling_number"], cdr["called_number"]) == ("300", "4930123456")
    assert (cdr["ingress_trunk"], cdr["egress_trunk"], cdr["q850_cause"]) == ("300", "TG-DTAG-01", 16)
    assert cdr["native_id"] == "1709294400.50/30"


def test_minimal_layout_without_duration_disposition_or_sequence():
    cdr = parse_with(MINIMAL, MINIMAL_LINE)
    assert_wire(cdr)
    assert (cdr["start_ms"], cdr["answer_ms"], cdr["end_ms"], cdr["duration_ms"]) == (T0, None, T0 + 30_000, 30_000)
    assert (cdr["correlation_id"], cdr["q850_cause"], cdr["ingress_trunk"]) == ("1709287200.59", None, None)
    assert cdr["native_id"].startswith("1709287200.60#") and cdr["native_id"].endswith("@0")


def test_columns_from_the_setting(monkeypatch):
    monkeypatch.setenv("CDRFLOW_ASTERISK_CUSTOM_COLUMNS", '["START", "Answer", "end", "billsec", "uniqueid", '
                                                          '"linkedid", "src", "dst"]')
    cdr = parse_asterisk_custom.for_file(MINIMAL_LINE)(MINIMAL_LINE, 0, CTX)
    assert (cdr["end_ms"], cdr["correlation_id"], cdr["calling_number"]) == (T0 + 30_000, "1709287200.59", "100")


@pytest.mark.parametrize("columns, reason", [
    (("start(int64)", "answer", "end", "billsec", "uniqueid"), "only Asterisk's default format of start is read"),
    (("start", "answer(%FT%T%z)", "end", "billsec", "uniqueid"), "only Asterisk's default format of answer"),
    (("start", "answer", "end", "billsec"), "asterisk_custom_columns lacks uniqueid"),
    (("src", "dst"), "asterisk_custom_columns lacks uniqueid, start, answer, end, billsec"),
])
def test_unreadable_layouts_say_why_on_every_line(columns, reason):
    parser = AsteriskCustomParser(columns).for_file(MINIMAL_LINE)
    assert isinstance(parser, UnreadableFile)
    with pytest.raises(RecordError, match=reason):
        parser(MINIMAL_LINE, 0, CTX)


@pytest.mark.parametrize("line, reason", [
    (MINIMAL_LINE.replace(b',"200"', b''), "expected 8 columns as in asterisk_custom_columns, got 7"),
    (MINIMAL_LINE.replace(b'"0"', b'"1.5x"'), "billsec must be whole or decimal seconds, got '1.5x'"),
    (MINIMAL_LINE.replace(b'"0"', b'"-1"'), "billsec must be a whole number of seconds"),
    (MINIMAL_LINE.replace(b'"0"', b'"3"'), "billsec 3 but no answer time"),
    (MINIMAL_LINE.replace(b'"1709287200.60"', b'""'), "empty uniqueid"),
    (MINIMAL_LINE.replace(b"10:00:30", b"09:00:30"), "end '2024-03-01 09:00:30' is before start"),
    (MINIMAL_LINE.replace(b"10:00:00", b"10:0O:00"), "bad timestamp '2024-03-01 10:0O:00'"),
    (MINIMAL_LINE.replace(b'"100"', b'"1"00"'), "bad CSV: ',' expected after"),
])
def test_malformed_lines_say_why(line, reason):
    with pytest.raises(RecordError, match=reason):
        parse_with(MINIMAL, line)


# an advanced mapping with separator_character = ; and quote_character = ' (two calls, by hand:
# the first answered at +5 s, 60 s billed, its caller name holding the separator and a doubled
# quote; the second unanswered, 30 s)
SEMICOLON_FILE = (b"'2024-03-01 10:00:00';'2024-03-01 10:00:05';'2024-03-01 10:01:05';'60';'1709287200.61';"
                  b"'1709287200.61';'O''Brien; front desk';'200'\n"
                  b"'2024-03-01 10:02:00';'';'2024-03-01 10:02:30';'0';'1709287320.62';'1709287320.62';'101';"
                  b"'4930123456'\n")


def test_other_separators_and_quote_characters():
    parser = AsteriskCustomParser(MINIMAL, ";", "'").for_file(SEMICOLON_FILE)
    lines = SEMICOLON_FILE.splitlines(keepends=True)
    cdrs, failed = parse_lines(parser, lines + [b"'2024-03-01 10:03:00','','2024-03-01 10:03:30'\n"], 0, CTX)
    assert [(c["call_id"], c["start_ms"] - T0, c["answer_ms"], c["end_ms"] - T0, c["billable_ms"], c["calling_number"],
             c["called_number"], c["q850_cause"], c["source_offset"]) for c in cdrs] == [
        ("1709287200.61", 0, T0 + 5_000, 65_000, 60_000, "O'Brien; front desk", "200", None, 0),
        ("1709287320.62", 120_000, None, 150_000, 0, "101", "4930123456", None, len(lines[0]))]
    # a comma-separated line in a ;-file: a dead letter at its offset, saying why
    assert failed == [(len(SEMICOLON_FILE), b"'2024-03-01 10:03:00','','2024-03-01 10:03:30'",
                       "bad CSV: ';' expected after '''")]
    assert [parser(line, 0, CTX)["call_id"] for line in lines] == ["1709287200.61", "1709287320.62"]
    for cdr in cdrs:
        assert_wire(cdr)


def test_separators_come_from_the_settings(monkeypatch):
    monkeypatch.setenv("CDRFLOW_ASTERISK_CUSTOM_COLUMNS", json.dumps(MINIMAL))
    monkeypatch.setenv("CDRFLOW_ASTERISK_CUSTOM_SEPARATOR", ";")
    monkeypatch.setenv("CDRFLOW_ASTERISK_CUSTOM_QUOTE", "'")
    cdrs, failed = parse_lines(parse_asterisk_custom.for_file(SEMICOLON_FILE), SEMICOLON_FILE.splitlines(True), 0, CTX)
    assert (len(cdrs), failed) == (2, [])
    with pytest.raises(ValueError, match="must differ"):
        Settings(asterisk_custom_separator="'", asterisk_custom_quote="'")
    with pytest.raises(ValueError):
        Settings(asterisk_custom_separator=";;")


# --- fuzz: only a wire record, None or a RecordError may come out -----------------------------

LAYOUTS = {tuple(ASTERISK_CUSTOM_SAMPLE_COLUMNS): SAMPLE.read_bytes().splitlines(keepends=True),
           ADVANCED: [ADVANCED_LINE], MINIMAL: [MINIMAL_LINE]}
PARSERS = {columns: AsteriskCustomParser(columns).for_file(b"") for columns in LAYOUTS}
ZONES = [CTX, SourceContext("pbx", "f", ZoneInfo("America/New_York")),
         SourceContext("pbx", "f", ZoneInfo("Asia/Kolkata"))]
VALUES = st.one_of(
    st.sampled_from(["", "0", "60", "60.5", "60.1234567", "1.", ".5", "-1", "1e3", "²", "9" * 30,
                     "2024-03-01 10:00:00", "2024-03-01 10:00:05", "2024-03-01 09:59:59", "2017-11-05 01:30:00",
                     "2024-02-30 10:00:00", "ANSWERED", "NO ANSWER", "BUSY", "SIP/carrierA-00000012",
                     "Local/1@x-1;1", "DAHDI/i1/1-1", 'a"b', "a,b", "\n"]),
    st.integers(-10**20, 10**20).map(str),
    st.text(max_size=20),
)


@st.composite
def mutated_lines(draw) -> tuple[tuple[str, ...], bytes]:
    columns = draw(st.sampled_from(list(LAYOUTS)))
    line = draw(st.sampled_from(LAYOUTS[columns]))
    if draw(st.booleans()):
        row = next(csv.reader([line.decode("latin-1")]))
        for index, value in draw(st.lists(st.tuples(st.integers(0, 22), VALUES), max_size=4)):
            if index < len(row):
                row[index] = value
        row = (row + ["x"] * 24)[:draw(st.one_of(st.just(len(row)), st.integers(0, 23)))]
        out = io.StringIO()
        csv.writer(out, quoting=draw(st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL])),
                   lineterminator="").writerow(row)
        line = (out.getvalue() if draw(st.booleans()) else ",".join(row)).encode() + b"\n"
    else:
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.binary(max_size=3)) + line[at + draw(st.integers(0, 4)):]
    return columns, line


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_lines(), st.sampled_from(ZONES), st.integers(0, 2**40))
def test_fuzz(layout_line, ctx, offset):
    columns, line = layout_line
    assert_line_contract(PARSERS[columns], line, offset, ctx)
