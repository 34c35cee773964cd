"""parse_lines — how the file source and the bench parse a chunk — gives exactly what the
parser gives line by line: the same CDRs, and the same failures with the same offsets and
reasons. The CSV formats split a chunk's lines with the compiled split (parsing.csv_rows), so the
chunks here mix real sample lines and bench lines with lines cut, quoted open, blank or garbled."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cdrflow.bench.pipeline import format_lines
from cdrflow.producers.formats import parser_for
from cdrflow.producers.parsing import (
    CsvLineParser,
    GroupingParser,
    SourceContext,
    parse_lines,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fuzz import fuzz_examples

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples"
FIXTURES = Path(__file__).parent / "fixtures"
CALLS = [{"calling_number": "+4930123456", "called_number": "4989555", "ingress_trunk": "carrierA",
          "egress_trunk": "TG-VZ-01"}, {"calling_number": "2125551000", "called_number": "18005550199",
                                       "ingress_trunk": None, "egress_trunk": None}]
# format → (first line of its files, real lines): the bench's lines and a real file's
SAMPLE_FILES = {"asterisk_csv": SAMPLES / "asterisk_cdr_csv" / "cdrcsv-report-generator_cdr.csv",
                "asterisk_custom": FIXTURES / "asterisk_custom" / "Master.csv",
                "cisco_cucm": SAMPLES / "cisco_cucm" / "cucm15_lab_cdr.txt",
                "kamailio_acc": SAMPLES / "kamailio_acc" / "dsiprouter_acc.csv",
                "freeswitch_csv": None}
CSV_FORMATS = tuple(SAMPLE_FILES)
CTX = SourceContext("pbx-hq", "/var/spool/cdr/Master.csv", ZoneInfo("America/New_York"))


def seeds(fmt: str) -> tuple[bytes, list[bytes]]:
    first, lines = format_lines(fmt, CALLS)
    if SAMPLE_FILES[fmt] is not None:
        real = SAMPLE_FILES[fmt].read_bytes().splitlines(keepends=True)
        first = real[0] if fmt in ("cisco_cucm", "kamailio_acc") else first
        lines = lines + real[:40]
        if fmt == "cisco_cucm":   # the bench's header is not the sample's: its lines, its file
            lines = real[:40]
    return first, lines


SEEDS = {fmt: seeds(fmt) for fmt in CSV_FORMATS}


@st.composite
def chunks(draw, fmt: str) -> list[bytes]:
    """Lines of one chunk: seed lines, some with bytes cut out and others put in their place."""
    lines = []
    for line in draw(st.lists(st.sampled_from(SEEDS[fmt][1]), min_size=1, max_size=8)):
        if draw(st.booleans()):
            at = draw(st.integers(0, len(line)))
            junk = draw(st.one_of(st.sampled_from([b'"', b'""', b",", b'",', b',"', b"\r", b"\n", b" ", b"\x00"]),
                                  st.binary(max_size=3)))
            line = line[:at] + junk + line[at + draw(st.integers(0, 4)):]
        lines.append(line)
    # a chunk is what splitlines gives the file source: no line ending inside a line
    return b"".join(lines).splitlines(keepends=True)


def line_by_line(parser, lines: list[bytes], offset: int) -> tuple[list, list]:
    # a plain function has no parse_lines: parse_lines then calls it on each line
    return parse_lines(lambda line, at, ctx: parser(line, at, ctx), lines, offset, CTX)


def parser_of(fmt: str):
    parser = parser_for(fmt)
    return parser.for_file(SEEDS[fmt][0]) if hasattr(parser, "for_file") else parser


@pytest.mark.parametrize("fmt", CSV_FORMATS)
def test_csv_formats_parse_chunks_in_one_pass(fmt):
    assert isinstance(parser_of(fmt), CsvLineParser)


@pytest.mark.parametrize("fmt", CSV_FORMATS)
@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(1_500), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), offset=st.integers(0, 10**9))
def test_chunk_gives_what_lines_give(fmt, data, offset):
    lines = data.draw(chunks(fmt))
    batch, single = parser_of(fmt), parser_of(fmt)   # one each: a grouping parser holds state
    assert parse_lines(batch, lines, offset, CTX) == line_by_line(single, lines, offset)
    if isinstance(batch, GroupingParser):
        assert batch.held_from() == single.held_from()
        assert batch.drain(final=True) == single.drain(final=True)


def test_a_quote_left_open_fails_its_line_only():
    lines = [b'"a","b\n', b'"","2125551000","18005550199","x","","SIP/a-1","SIP/b-2","Dial","",'
             b'"2024-03-01 10:00:00","","2024-03-01 10:00:30",30,0,"NO ANSWER","DOCUMENTATION","1.1",""\n']
    cdrs, failed = parse_lines(parser_for("asterisk_csv"), lines, 100, CTX)
    assert failed == [(100, b'"a","b', "bad CSV: unexpected end of data")]
    assert [(c["call_id"], c["source_offset"]) for c in cdrs] == [("1.1", 100 + len(lines[0]))]


