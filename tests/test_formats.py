"""The format registry: every format says which canonical CDR fields it fills."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from cdrflow.bench.pipeline import LINE_BENCH_FORMATS, dbf_table, format_lines
from cdrflow.producers.formats import FORMATS, describe_formats, parser_for
from cdrflow.producers.parsing import SourceContext
from cdrflow.schemas.cdr import CDR

from support.wire import assert_wire


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
    for fmt in LINE_BENCH_FORMATS:
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


def test_bench_dbf_table_reads_as_the_calls_it_was_made_from(tmp_path):
    from cdrflow.producers.dbf_source import DbfTable

    cdrs = [{"called_number": "4989555"}, {"called_number": "+4930123456"}]
    path = tmp_path / "calls.dbf"
    path.write_bytes(dbf_table(cdrs))
    table = DbfTable(path)
    assert table.count(path.stat().st_size) == 2
    ctx = SourceContext("bench", str(path), ZoneInfo("UTC"))
    with open(path, "rb") as fh:
        got = [parser_for("wintariff_dbf")(table.decode(raw), recno, ctx) for recno, raw in table.read(fh, 0, 2)]
    for cdr in got:
        assert_wire(cdr)
    start = 1_795_168_800_000   # date -u -d '2026-11-20 10:00:00' +%s; the second row a second later
    assert [(c["calling_number"], c["called_number"], c["start_ms"], c["answer_ms"], c["duration_ms"],
             c["egress_trunk"], c["source_offset"]) for c in got] == \
           [("100", "4989555", start, start, 30_000, "L1", 0),
            ("101", "+4930123456", start + 1000, start + 1000, 30_000, "L1", 1)]


def test_the_parse_stage_publishes_every_record_it_times(settings):
    # the bench's parse + publish runs (fresh processes) send what the file source sends: one
    # 500-CDR envelope per 500 records parsed, acknowledged by the real broker before it stops
    # the clock; the parse-only runs send nothing
    import orjson
    from cdrflow.bench.pipeline import parse_stage

    from support.kafka import read_topic
    figures = parse_stage(settings, 1_000, ("cisco_cucm", "wintariff_dbf"), publish=True, runs=1)
    assert list(figures) == ["parse_cisco_cucm_cdr_per_s", "parse_publish_cisco_cucm_cdr_per_cpu_s",
                             "parse_wintariff_dbf_cdr_per_s", "parse_publish_wintariff_dbf_cdr_per_cpu_s"]
    assert all(rate > 0 for rate in figures.values())
    envelopes = [orjson.loads(value) for value in read_topic(settings.kafka_bootstrap, settings.topic_cdr_batches, 4)]
    assert [len(e["cdrs"]) for e in envelopes] == [500] * 4
    assert {c["source_format"] for e in envelopes for c in e["cdrs"]} == {"cisco_cucm", "wintariff_dbf"}
