"""The format registry: every format says which canonical CDR fields it fills."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from cdrflow.bench import PARSE_BENCH_FORMATS, format_lines
from cdrflow.producers.formats import FORMATS, describe_formats, parser_for
from cdrflow.producers.parsing import SourceContext
from cdrflow.schemas.cdr import CDR
from wire import assert_wire


def test_every_format_lists_real_cdr_fields():
    described = describe_formats()
    assert [name for name, _, _ in described] == list(FORMATS)
    for name, summary, fields in described:
        assert summary, name
        assert "start_ms" in fields and set(fields) <= set(CDR.model_fields), name


def test_bench_lines_of_every_benched_format_parse():
    # `cdrflow bench` times these lines per format; a line that fails would time the error path
    cdrs = [{"calling_number": "+4930123456", "called_number": "4989555", "ingress_trunk": "carrierA",
             "egress_trunk": None}] * 2
    ctx = SourceContext("bench", "bench", ZoneInfo("UTC"))
    for fmt in PARSE_BENCH_FORMATS:
        first, lines = format_lines(fmt, cdrs)
        parser = parser_for(fmt)
        parser = parser.for_file(first) if hasattr(parser, "for_file") else parser
        got = [parser(line, 0, ctx) for line in lines]
        for cdr in got:
            assert_wire(cdr)
        # acc logs only the final reply's time, so an unanswered Kamailio call lasts 0 s
        duration_ms = 0 if fmt == "kamailio_acc" else 30_000
        assert [(c["calling_number"], c["called_number"], c["answer_ms"], c["duration_ms"]) for c in got] == \
               [("+4930123456", "4989555", None, duration_ms)] * 2, fmt
        assert got[0]["cdr_id"] != got[1]["cdr_id"], fmt
