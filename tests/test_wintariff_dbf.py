"""WinTariff-style DBF call tables: the parser on decoded records, and the DBF source on a real
broker (held rows that settle on a later read, checkpoints by record number, dead letters).

ROWS is the table, written byte by byte by cdrflow/bench/dbf_writer.py (PBX time Europe/Moscow, UTC+3 all year).
Figures, by hand from the rows:
- record 3 is deleted; records 6 (DATE 2024-02-30) and 7 (TIME "9:5") are dead letters;
- record 5's CALLTYPE is empty when first read: it is held, and becomes a CDR once it is "mobile";
- so 5 CDRs (records 0, 1, 2, 4, 5); answered (IDURATION > 0): 0, 2, 5 → 125 + 42 + 61 = 228 s;
- directions: 0 and 4 incoming (CALLERID → EXTENSION, LINE 1 as ingress trunk), 1 and 5
  outgoing (EXTENSION → NUMBER, LINE 2 / 3 as egress), 2 internal (NUMBER "internal 103": no
  trunk, call_class internal);
- 2024-03-01 09:15:00 MSK = 06:15:00 UTC: `date -u -d '2024-03-01 06:15:00' +%s` = 1709273700.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from cdrflow.bench.dbf_writer import (
    append_rows,
    record,
    record_length,
    set_field,
    write_table,
)
from cdrflow.producers.checkpoint import CheckpointStore
from cdrflow.producers.dbf_source import DbfSource, DbfTable
from cdrflow.producers.formats import describe_formats, parser_for
from cdrflow.producers.heartbeat import Heartbeat, heartbeat_age_s
from cdrflow.producers.parsing import (
    CDRRecord,
    RecordError,
    RecordParser,
    SourceContext,
)
from cdrflow.producers.publisher import Publisher
from cdrflow.producers.wintariff_dbf import parse_wintariff_dbf
from cdrflow.schemas.cdr import make_cdr_id
from cdrflow.schemas.envelope import decode_batch
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from support.file_source import Harness as FileSourceHarness
from support.kafka import read_all
from support.wire import assert_wire
from support.fuzz import fuzz_examples

MSK = ZoneInfo("Europe/Moscow")
SOURCE = "pbx-ldk"
D = date(2024, 3, 1)
ROWS = [
    {"DATE": D, "TIME": "09:15:00", "CALLERID": "4957771234", "EXTENSION": "101", "NUMBER": "",
     "IDURATION": 125, "CALLTYPE": "incoming", "LINE": "1"},
    {"DATE": D, "TIME": "09:20:30", "CALLERID": "", "EXTENSION": "102", "NUMBER": "84951234567",
     "IDURATION": 0, "CALLTYPE": "long distance", "LINE": "2"},
    {"DATE": D, "TIME": "09:25:00", "CALLERID": "103", "EXTENSION": "101", "NUMBER": "internal 103",
     "IDURATION": 42, "CALLTYPE": "internal", "LINE": ""},
    {"DATE": D, "TIME": "09:30:00", "CALLERID": "", "EXTENSION": "101", "NUMBER": "84950000000",
     "IDURATION": 5, "CALLTYPE": "local", "LINE": "2"},                                  # deleted
    {"DATE": D, "TIME": "09:31:07", "CALLERID": "9161234567", "EXTENSION": "104", "NUMBER": "",
     "IDURATION": 0, "CALLTYPE": "incoming", "LINE": "1"},
    {"DATE": D, "TIME": "09:40:00", "CALLERID": "", "EXTENSION": "102", "NUMBER": "89031234567",
     "IDURATION": 61, "CALLTYPE": "", "LINE": "3"},                                      # settles later
    {"DATE": "20240230", "TIME": "09:41:00", "CALLERID": "1", "EXTENSION": "101", "NUMBER": "2",
     "IDURATION": 1, "CALLTYPE": "local", "LINE": "2"},
    {"DATE": D, "TIME": "9:5", "CALLERID": "1", "EXTENSION": "101", "NUMBER": "2",
     "IDURATION": 1, "CALLTYPE": "local", "LINE": "2"},
]
DELETED = frozenset({3})
START_0 = 1_709_273_700_000


def ctx(path: Path) -> SourceContext:
    return SourceContext(SOURCE, str(path), MSK)


def parse_table(path: Path) -> list[CDRRecord | None | str]:
    """Every record as the source sees it: CDR, None (deleted) or the RecordError's reason."""
    table, out = DbfTable(path), []
    with open(path, "rb") as fh:
        for recno, raw in table.read(fh, 0, table.count(path.stat().st_size)):
            try:
                rec = table.decode(raw)
                out.append(None if rec is None else parse_wintariff_dbf(rec, recno, ctx(path)))
            except RecordError as e:
                out.append(str(e))
    return out


@pytest.fixture
def table(tmp_path) -> Path:
    path = tmp_path / "calls.dbf"
    write_table(path, ROWS, deleted=DELETED)
    return path


def test_registered():
    assert parser_for("wintariff_dbf") is parse_wintariff_dbf
    assert isinstance(parse_wintariff_dbf, RecordParser)
    assert "wintariff_dbf" in [name for name, _, _ in describe_formats()]


def test_records_become_cdrs(table):
    results = parse_table(table)
    assert results[3] is None
    assert "DATE" in results[6] and "unreadable" in results[6]
    assert results[7] == "TIME '9:5' is not HH:MM:SS"
    cdrs = [results[i] for i in (0, 1, 2, 4, 5)]
    assert sum(c["answer_ms"] is not None for c in cdrs) == 3
    assert sum(c["billable_ms"] for c in cdrs) == 228_000
    assert [(c["calling_number"], c["called_number"], c["ingress_trunk"], c["egress_trunk"], c["call_class"])
            for c in cdrs] == [
        ("4957771234", "101", "1", None, None), ("102", "84951234567", None, "2", None),
        ("103", "101", None, None, "internal"), ("9161234567", "104", "1", None, None),
        ("102", "89031234567", None, "3", None)]   # record 5 given up on: a dialled number → outgoing
    assert cdrs[0] == {
        "cdr_id": make_cdr_id(SOURCE, "calls.dbf#0"), "source": SOURCE, "source_format": "wintariff_dbf",
        "native_id": "calls.dbf#0", "call_id": "calls.dbf#0", "correlation_id": None, "record_kind": "stop",
        "start_ms": START_0, "answer_ms": START_0, "end_ms": START_0 + 125_000, "duration_ms": 125_000,
        "billable_ms": 125_000, "calling_number": "4957771234", "called_number": "101",
        "calling_e164": None, "called_e164": None, "ingress_trunk": "1", "egress_trunk": None,
        "interconnect": None, "direction": None, "q850_cause": None, "sip_code": None, "cause_class": None,
        "disconnect_initiator": None, "pdd_ms": None, "tenant": None, "extension": "101", "call_class": None,
        "call_direction": None, "destination": None, "cost": None, "source_file": str(table), "source_offset": 0}
    # 09:31:07 MSK, unanswered: ends at its start
    assert (cdrs[3]["start_ms"], cdrs[3]["answer_ms"], cdrs[3]["end_ms"]) == \
           (1_709_274_667_000, None, 1_709_274_667_000)


def test_settled_only_once_calltype_is_filled(table):
    rec = DbfTable(table).decode(record(ROWS[5]))
    assert not parse_wintariff_dbf.settled(rec)
    assert parse_wintariff_dbf.settled({**rec, "CALLTYPE": "mobile"})
    assert parse_wintariff_dbf.settled({k: v for k, v in rec.items() if k != "CALLTYPE"})  # nothing to wait for


def test_text_dates_and_cp866(tmp_path):
    path = tmp_path / "t.dbf"
    write_table(path, [{**ROWS[0], "DATE": None}, {**ROWS[2], "NUMBER": "103", "CALLTYPE": "Внутренний"}])
    table = DbfTable(path)
    with open(path, "rb") as fh:
        ((_, raw),) = table.read(fh, 1)
        second = table.decode(raw)
    assert second["CALLTYPE"] == "Внутренний"   # decoded as cp866, the table's language driver
    assert parse_wintariff_dbf(second, 1, ctx(path))["call_class"] == "internal"
    incoming = parse_wintariff_dbf({**ROWS[0], "CALLTYPE": "Входящий"}, 0, ctx(path))
    assert (incoming["calling_number"], incoming["ingress_trunk"]) == ("4957771234", "1")
    for text in ("20240301", "2024-03-01", "01.03.2024"):
        assert parse_wintariff_dbf({**ROWS[0], "DATE": text}, 0, ctx(path))["start_ms"] == START_0
    with pytest.raises(RecordError, match="DATE"):
        parse_wintariff_dbf({**ROWS[0], "DATE": None}, 0, ctx(path))
    with pytest.raises(RecordError, match="lacks field"):
        parse_wintariff_dbf({"DATE": D}, 0, ctx(path))


# Any bytes in a record's place — random; a good record with one field set to anything; a record
# of random field values cut and followed by noise: the source gets a CDR, None (deleted) or a
# RecordError it dead-letters, never another exception.
VALUES = st.one_of(st.sampled_from(["", "internal", "0", "00:00", "24:00:00", "-1", "1e9", "01.13.2024"]),
                   st.text(max_size=30), st.integers(-10**12, 10**12), st.dates(), st.none())
RECORDS = st.one_of(
    st.binary(min_size=record_length(), max_size=record_length()),
    st.builds(lambda name, value: record({**ROWS[0], name: value}), st.sampled_from(list(ROWS[0])), VALUES),
    st.builds(lambda row, cut, noise: (record(row)[:cut] + noise)[:record_length()].ljust(record_length()),
              st.fixed_dictionaries({name: VALUES for name in ROWS[0]}),
              st.integers(0, record_length()), st.binary(max_size=40)))


@pytest.mark.fuzz
@hypothesis_settings(max_examples=fuzz_examples(10_000), deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(RECORDS)
def test_fuzz_records(raw):
    path = Path("/var/pbx/calls.dbf")
    try:
        rec = FUZZ_TABLE.decode(raw)
        result = None if rec is None else parse_wintariff_dbf(rec, 7, ctx(path))
    except RecordError as e:
        assert str(e)
        return
    if result is not None:
        assert_wire(result)
        assert result["source_offset"] == 7


def _fuzz_table() -> DbfTable:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.dbf"
        write_table(path, [])
        return DbfTable(path)


FUZZ_TABLE = _fuzz_table()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Harness(FileSourceHarness):
    """test_file_source's harness (publishers dropped at teardown), making DBF sources on a clock."""

    def __init__(self, settings, tmp_path: Path):
        super().__init__(settings, tmp_path)
        self.tmp_path, self.clock = tmp_path, Clock()

    def source(self, *paths: Path, settle_after_s: float = 60.0) -> DbfSource:
        publisher = Publisher(self.settings.kafka_bootstrap, self.settings)
        self.publishers.append(publisher)
        return DbfSource(source=SOURCE, paths=list(paths), parser=parse_wintariff_dbf, publisher=publisher,
                         checkpoints=CheckpointStore(self.tmp_path / "checkpoints" / f"{SOURCE}.json"),
                         timezone=MSK, settle_after_s=settle_after_s, clock=self.clock)

    def cdrs(self, expect_messages: int) -> list[dict]:
        values = read_all(self.settings.kafka_bootstrap, self.settings.topic_cdr_batches, expect=expect_messages)
        assert len(values) == expect_messages
        return [cdr for value in values for cdr in decode_batch(value)]

    def dead_letters(self, expect: int) -> list[dict]:
        values = read_all(self.settings.kafka_bootstrap, self.settings.topic_dead_letter, expect=expect)
        assert len(values) == expect
        return [orjson.loads(v) for v in values]


@pytest.fixture
def harness(settings, tmp_path):
    h = Harness(settings, tmp_path)
    yield h
    h.close()


def checkpoint(harness: Harness, path: Path) -> int:
    st_ = path.stat()
    return CheckpointStore(harness.tmp_path / "checkpoints" / f"{SOURCE}.json").offset(f"{st_.st_dev}:{st_.st_ino}")


def test_source_holds_a_row_until_it_settles(harness, table):
    source = harness.source(table)
    assert source.poll() == 8
    # records 0, 1, 2, 4 published; 5 held; 6, 7 dead letters; the checkpoint stops at 5
    assert (source.stats.cdrs, source.stats.dead_letters, checkpoint(harness, table)) == (4, 2, 5)
    harness.clock.now += 30
    assert source.poll() == 0 and source.stats.cdrs == 4          # read again, still unsettled
    set_field(table, 5, "CALLTYPE", "mobile")
    append_rows(table, [{**ROWS[0], "TIME": "10:00:00", "CALLERID": "4950001122"}])
    assert source.poll() == 1
    assert (source.stats.cdrs, checkpoint(harness, table)) == (6, 9)
    # a restart resumes after the last record: nothing is published again
    restarted = harness.source(table)
    assert restarted.poll() == 0 and restarted.stats.cdrs == 0

    # messages keep their order within a partition only
    cdrs = sorted(harness.cdrs(expect_messages=2), key=lambda c: c["source_offset"])
    assert [c["source_offset"] for c in cdrs] == [0, 1, 2, 4, 5, 8]
    settled = cdrs[4]
    assert (settled["calling_number"], settled["called_number"], settled["egress_trunk"], settled["billable_ms"]) == \
           ("102", "89031234567", "3", 61_000)
    assert cdrs[5]["native_id"] == "calls.dbf#8" and cdrs[5]["calling_number"] == "4950001122"
    letters = harness.dead_letters(expect=2)
    assert sorted(letter["position"] for letter in letters) == [f"{table}#6", f"{table}#7"]
    assert all(letter["source_format"] == "wintariff_dbf" and letter["stage"] == "parse" for letter in letters)


def test_source_gives_up_after_settle_time_and_restarts_at_held_row(harness, tmp_path):
    path = tmp_path / "calls.dbf"
    write_table(path, [ROWS[0], {**ROWS[4], "CALLTYPE": ""}, ROWS[1]])
    source = harness.source(path, settle_after_s=20)
    source.poll()
    assert (source.stats.cdrs, checkpoint(harness, path)) == (2, 1)
    # a restart before it settles reads from the held row: record 2 is published again (same cdr_id)
    restarted = harness.source(path, settle_after_s=20)
    restarted.poll()
    harness.clock.now += 20
    restarted.poll()                                   # given up: published with what it has
    assert (restarted.stats.cdrs, checkpoint(harness, path)) == (2, 3)
    cdrs = sorted(harness.cdrs(expect_messages=3), key=lambda c: c["source_offset"])
    assert [c["source_offset"] for c in cdrs] == [0, 1, 2, 2]
    assert len({c["cdr_id"] for c in cdrs}) == 3
    given_up = cdrs[1]   # no CALLTYPE, no dialled number → incoming: CALLERID calls EXTENSION
    assert (given_up["calling_number"], given_up["called_number"], given_up["ingress_trunk"]) == \
           ("9161234567", "104", "1")


def test_one_shot_run_publishes_unsettled_rows_and_rewritten_table_restarts(harness, tmp_path):
    path = tmp_path / "calls.dbf"
    write_table(path, [ROWS[0], {**ROWS[5]}])
    source = harness.source(path)
    source.heartbeat = Heartbeat(tmp_path / "heartbeat" / SOURCE)
    source.run(follow=False)
    assert (source.stats.cdrs, checkpoint(harness, path)) == (2, 2)
    assert heartbeat_age_s(tmp_path / "heartbeat" / SOURCE) < 60    # `cdrflow probe` sees it alive
    write_table(path, [ROWS[1]])                       # packed / replaced in place: fewer records
    source.poll()
    assert (source.stats.cdrs, checkpoint(harness, path)) == (3, 1)
    assert sorted(c["source_offset"] for c in harness.cdrs(expect_messages=2)) == [0, 0, 1]


def test_damaged_header_is_one_dead_letter(harness, tmp_path):
    path = tmp_path / "broken.dbf"
    path.write_bytes(b"\x03\x7c\x03\x01" + b"\xff" * 20)
    source = harness.source(path)
    source.poll(final=True)
    source.poll(final=True)
    letters = harness.dead_letters(expect=1)
    assert letters[0]["position"] == f"{path}#header" and "not a readable DBF table" in letters[0]["reason"]
