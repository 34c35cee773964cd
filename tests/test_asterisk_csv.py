"""Asterisk cdr_csv parser, pinned to a real Master.csv and to hand-computed values.

Expected numbers for the sample were computed without the parser (grep/awk/date over the file),
so a parser bug cannot agree with itself.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cdrflow.producers.asterisk_csv import parse_asterisk_csv, trunk_from_channel
from cdrflow.producers.parsing import CDRRecord, RecordError, SourceContext
from cdrflow.schemas.cdr import make_cdr_id
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from support.wire import assert_line_contract, assert_wire
from support.fuzz import fuzz_examples

SAMPLE = (Path(__file__).resolve().parent / "fixtures" / "samples" / "asterisk_cdr_csv"
          / "cdrcsv-report-generator_cdr.csv")
UTC = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")


def ctx(tz: ZoneInfo = UTC) -> SourceContext:
    return SourceContext(source="pbx-hq", source_file="/var/log/asterisk/cdr-csv/Master.csv", timezone=tz)


def sample_lines() -> list[tuple[int, bytes]]:
    offset, out = 0, []
    for line in SAMPLE.read_bytes().splitlines(keepends=True):
        out.append((offset, line))
        offset += len(line)
    return out


def parse_sample(tz: ZoneInfo = UTC) -> list[CDRRecord]:
    c = ctx(tz)
    return [parse_asterisk_csv(line, offset, c) for offset, line in sample_lines()]


COLUMNS = ("accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
           "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
           "uniqueid", "userfield", "peeraccount", "linkedid", "sequence")
BARE = {"duration", "billsec", "sequence"}  # cdr_csv writes numbers unquoted
BASE = {
    "accountcode": "acme", "src": "2125551000", "dst": "18005550199", "dcontext": "from-trunk",
    "clid": '"Alice, Sales" <2125551000>', "channel": "SIP/carrierA-00000012",
    "dstchannel": "PJSIP/TG-VZ-01-0000001a", "lastapp": "Dial", "lastdata": "PJSIP/100,30,tT",
    "start": "2024-03-01 10:00:00", "answer": "2024-03-01 10:00:05", "end": "2024-03-01 10:01:05",
    "duration": "65", "billsec": "60", "disposition": "ANSWERED", "amaflags": "DOCUMENTATION",
    "uniqueid": "1709287200.42", "userfield": "", "peeraccount": "",
    "linkedid": "1709287200.40", "sequence": "17",
}
START_UTC_MS = 1_709_287_200_000  # date -u -d '2024-03-01 10:00:00' +%s


def make_line(columns: int = 18, **changes: str) -> bytes:
    values = {**BASE, **changes}
    fields = [values[name] if name in BARE else '"' + values[name].replace('"', '""') + '"'
              for name in COLUMNS[:columns]]
    return ",".join(fields).encode() + b"\n"


def parse(line: bytes, tz: ZoneInfo = UTC, offset: int = 0) -> CDRRecord:
    cdr = parse_asterisk_csv(line, offset, ctx(tz))
    assert_wire(cdr)
    return cdr


# --- the real sample ------------------------------------------------------------------------

def test_sample_totals():
    cdrs = parse_sample()
    assert len(cdrs) == 218
    for c in cdrs:
        assert_wire(c)
    # answered is the disposition's verdict: the 133 ANSWERED rows. 5 NO ANSWER rows carry an
    # answer time and billsec (25, 25, 25, 25, 8: the caller's channel answered by the dialplan);
    # they are unanswered, billable 0. billsec over all rows 38,947 s − 108 s = 38,839 s
    # (awk -F'","' '$15 ~ /^ANSWERED/' over the file, billsec summed).
    assert sum(c["answer_ms"] is not None for c in cdrs) == 133
    assert sum(c["billable_ms"] for c in cdrs) == 38_839_000
    assert sum(c["duration_ms"] for c in cdrs) == 41_114_000
    # ANSWERED 133, NO ANSWER 83, BUSY 2
    assert Counter(c["q850_cause"] for c in cdrs) == {16: 133, 19: 83, 17: 2}
    # 8 rows are byte-identical copies of another row (forks with masked channels): their
    # offsets keep them apart, so every row is its own record
    assert len({c["cdr_id"] for c in cdrs}) == 218
    assert [c["source_offset"] for c in cdrs] == [offset for offset, _ in sample_lines()]


def test_sample_start_matches_uniqueid_epoch():
    # Asterisk's uniqueid starts with the epoch second the channel was created; this PBX logged UTC.
    for cdr in parse_sample(UTC):
        assert cdr["start_ms"] == int(cdr["call_id"].split(".")[0]) * 1000


def test_sample_row_fields_new_york():
    _, line = sample_lines()[1]
    cdr = parse(line, NEW_YORK, offset=274)
    assert cdr == {
        # (the row without its newline | b2sum -l 48)@offset; then uuid5 as in schemas/cdr.py. Pinned:
        # changing it would give every re-read record a new id and defeat deduplication.
        "cdr_id": "3c0f6bfa-0244-57d9-b23b-b83e4b15c99f",
        "source": "pbx-hq",
        "source_format": "asterisk_csv",
        "native_id": "1497952162.0#5fe15408f53a@274",
        "call_id": "1497952162.0",
        "correlation_id": None,
        "record_kind": "stop",
        # date -d 'TZ="America/New_York" 2017-06-20 09:49:22' +%s (EDT, UTC-4)
        "start_ms": 1_497_966_562_000,
        "answer_ms": 1_497_966_572_000,
        "end_ms": 1_497_967_086_000,
        "duration_ms": 524_000,
        "billable_ms": 514_000,
        "calling_number": "791-445-9811",
        "called_number": "715-413-9112",
        "calling_e164": None,
        "called_e164": None,
        "ingress_trunk": None,
        "egress_trunk": None,
        "interconnect": None,
        "direction": None,
        "q850_cause": 16,
        "sip_code": None,
        "cause_class": None,
        "disconnect_initiator": None,
        "pdd_ms": None,
        "tenant": None,
        "extension": None,
        "call_class": None,          # tenant fields: filled by enrichment, not by the parser
        "call_direction": None,
        "destination": None,
        "cost": None,
        "source_file": "/var/log/asterisk/cdr-csv/Master.csv",
        "source_offset": 274,
    }


def test_sample_unanswered_row():
    _, line = sample_lines()[0]
    cdr = parse(line)
    assert (cdr["answer_ms"], cdr["billable_ms"], cdr["duration_ms"], cdr["q850_cause"]) == (None, 0, 10_000, 19)
    assert cdr["end_ms"] - cdr["start_ms"] == 10_000


def test_cdr_id_is_stable_and_forks_differ():
    (_, first), (_, second) = sample_lines()[:2]
    assert parse(first)["cdr_id"] == parse(first)["cdr_id"] == "b29ded65-f158-58e2-8947-d5b5d1d05a7b"
    assert parse(first)["call_id"] == parse(second)["call_id"] == "1497952162.0"
    assert parse(first)["cdr_id"] != parse(second)["cdr_id"]
    # the line ending is not part of the identity; the byte offset is (identical forked rows)
    assert parse(first, offset=0)["cdr_id"] != parse(first, offset=999)["cdr_id"]
    assert parse(first.rstrip(b"\n") + b"\r\n")["cdr_id"] == parse(first)["cdr_id"]


# --- column variants ------------------------------------------------------------------------

def test_21_columns_use_linkedid_and_sequence():
    cdr = parse(make_line(21))
    assert cdr["native_id"] == "1709287200.42/17"
    assert cdr["cdr_id"] == make_cdr_id("pbx-hq", "1709287200.42/17")
    assert cdr["call_id"] == "1709287200.42"
    assert cdr["correlation_id"] == "1709287200.40"
    assert (cdr["start_ms"], cdr["answer_ms"], cdr["end_ms"]) == (
        START_UTC_MS, START_UTC_MS + 5_000, START_UTC_MS + 65_000)
    assert (cdr["duration_ms"], cdr["billable_ms"], cdr["q850_cause"]) == (65_000, 60_000, 16)
    assert (cdr["calling_number"], cdr["called_number"]) == ("2125551000", "18005550199")
    assert (cdr["ingress_trunk"], cdr["egress_trunk"]) == ("carrierA", "TG-VZ-01")
    assert cdr["cause_class"] is None and cdr["tenant"] is None and cdr["extension"] is None


@pytest.mark.parametrize("columns, correlation", [(18, None), (19, None), (20, "1709287200.40")])
def test_18_to_20_columns(columns, correlation):
    cdr = parse(make_line(columns))
    assert cdr["correlation_id"] == correlation
    assert cdr["native_id"].startswith("1709287200.42#")
    assert cdr["billable_ms"] == 60_000


def test_empty_linkedid_and_sequence_fall_back():
    cdr = parse(make_line(21, linkedid="", sequence=""))
    assert cdr["correlation_id"] is None and cdr["native_id"].startswith("1709287200.42#")


def test_sequence_distinguishes_forks():
    assert parse(make_line(21, sequence="1"))["cdr_id"] != parse(make_line(21, sequence="2"))["cdr_id"]


# --- answer and disposition -----------------------------------------------------------------

@pytest.mark.parametrize("disposition, cause", [
    ("ANSWERED", 16), ("NO ANSWER", 19), ("BUSY", 17), ("CONGESTION", 34), ("FAILED", 41),
    ("UNKNOWN", None), ("", None),
])
def test_disposition_to_q850(disposition, cause):
    cdr = parse(make_line(answer="", billsec="0", disposition=disposition))
    assert cdr["q850_cause"] == cause and cdr["billable_ms"] == 0
    # ANSWERED without an answer time or talk time: answered at its end (10:01:05)
    assert cdr["answer_ms"] == (START_UTC_MS + 65_000 if disposition == "ANSWERED" else None)


def test_answer_time_without_talk_time_is_unanswered_unless_answered():
    # Answer() in the dialplan stamps answer although the dialled party never picked up
    assert parse(make_line(billsec="0", disposition="NO ANSWER"))["answer_ms"] is None
    assert parse(make_line(billsec="0", disposition="ANSWERED"))["answer_ms"] == START_UTC_MS + 5_000


@pytest.mark.parametrize("disposition", ["NO ANSWER", "BUSY", "FAILED", "CONGESTION"])
def test_disposition_decides_answered_even_with_talk_time(disposition):
    # an IVR answered the caller (answer time, billsec 60) and then the Dial failed: not answered,
    # so never cause_class answered with cause 19; its billable time is 0
    cdr = parse(make_line(disposition=disposition))
    assert cdr["answer_ms"] is None and cdr["billable_ms"] == 0 and cdr["duration_ms"] == 65_000


def test_answered_without_answer_time_is_answered_billsec_before_the_end():
    # end 10:01:05 − billsec 60 s = 10:00:05
    cdr = parse(make_line(answer="", disposition="ANSWERED"))
    assert cdr["answer_ms"] == START_UTC_MS + 5_000 and cdr["billable_ms"] == 60_000
    with pytest.raises(RecordError, match="longer than the call"):
        parse(make_line(answer="", billsec="66"))


# --- time zones -----------------------------------------------------------------------------

def test_new_york_winter_offset():
    assert parse(make_line(), NEW_YORK)["start_ms"] == 1_709_305_200_000  # EST, UTC-5


def test_half_hour_zone():
    # date -d 'TZ="Asia/Kolkata" 2017-06-20 09:49:22' +%s
    _, line = sample_lines()[1]
    assert parse(line, ZoneInfo("Asia/Kolkata"))["start_ms"] == 1_497_932_362_000


def test_call_across_autumn_dst_change():
    # 01:59:30 EDT → 01:00:10 EST: the end is in the repeated hour
    cdr = parse(make_line(start="2017-11-05 01:59:30", answer="", end="2017-11-05 01:00:10",
                          duration="40", billsec="0", disposition="NO ANSWER"), NEW_YORK)
    assert (cdr["start_ms"], cdr["end_ms"]) == (1_509_861_570_000, 1_509_861_610_000)


def test_call_across_spring_dst_change():
    cdr = parse(make_line(start="2017-03-12 01:59:50", answer="", end="2017-03-12 03:00:05",
                          duration="15", billsec="0", disposition="NO ANSWER"), NEW_YORK)
    assert (cdr["start_ms"], cdr["end_ms"]) == (1_489_301_990_000, 1_489_302_005_000)


def test_transition_inside_the_hour():
    # Lord Howe moves its clocks by 30 minutes at 02:00; 02:45 is already +11
    cdr = parse(make_line(start="2017-10-01 02:45:00", answer="", end="2017-10-01 02:45:00",
                          duration="0", billsec="0"), ZoneInfo("Australia/Lord_Howe"))
    assert cdr["start_ms"] == 1_506_786_300_000


ZONES = [ZoneInfo(name) for name in ("UTC", "America/New_York", "Europe/Moscow", "Asia/Kolkata",
                                     "Australia/Lord_Howe", "America/St_Johns", "Pacific/Chatham")]


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(2_000), deadline=None, database=None)
@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2099, 12, 31)),
       st.sampled_from(ZONES))
@example(datetime(2074, 9, 30, 3, 0, fold=1), ZoneInfo("Pacific/Chatham"))   # a skipped time, fold=1
def test_cached_conversion_agrees_with_zoneinfo(local, tz):
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    cdr = parse(make_line(start=text, answer="", end=text, duration="0", billsec="0"), tz)
    # the text carries no fold, so the first reading of an ambiguous or skipped time is expected
    expected = int(local.replace(microsecond=0, fold=0, tzinfo=tz).astimezone(timezone.utc).timestamp()) * 1000
    assert cdr["start_ms"] == expected


# --- trunks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("channel, trunk", [
    ("SIP/carrierA-00000012", "carrierA"),
    ("PJSIP/TG-VZ-01-0000001a", "TG-VZ-01"),
    ("DAHDI/1-1", "1"),
    ("DAHDI/i1/2125551000-1f", "i1"),
    ("IAX2/peer-1234", "peer"),
    ("SIP/10.0.0.1-0000abcd", "10.0.0.1"),
    ("Local/100@from-internal-0001;1", None),
    ("NOT_AVAILABLE", None),
    ("", None),
    ("SIP/-00000001", None),
])
def test_trunk_from_channel(channel, trunk):
    assert trunk_from_channel(channel) == trunk


def test_trunks_on_the_record():
    cdr = parse(make_line(channel="Local/100@from-internal-0001;1", dstchannel="DAHDI/1-1"))
    assert (cdr["ingress_trunk"], cdr["egress_trunk"]) == (None, "1")


# --- blank and malformed lines --------------------------------------------------------------

@pytest.mark.parametrize("line", [b"", b"\n", b"\r\n", b"   \t\r\n"])
def test_blank_lines_are_skipped(line):
    assert parse_asterisk_csv(line, 0, ctx()) is None


def test_invalid_utf8_in_caller_name_keeps_the_record():
    line = make_line(clid="x").replace(b'"x"', b'"M\xfcller <100>"')
    cdr = parse(line)
    assert cdr["calling_number"] == "2125551000"
    assert cdr["cdr_id"] != parse(make_line(clid="x"))["cdr_id"]


@pytest.mark.parametrize("line, reason", [
    (b'"a","b","c","d","e","f","g"\n', "expected 18-21 columns, got 7"),
    (make_line(17), "expected 18-21 columns, got 17"),
    (make_line(21).rstrip(b"\n") + b',"extra"\n', "expected 18-21 columns, got 22"),
    (make_line(start="2024-03-01T10:00:00"), "bad timestamp '2024-03-01T10:00:00'"),
    (make_line(start="2024-13-01 10:00:00"), "bad timestamp '2024-13-01 10:00:00'"),
    (make_line(start="2024-02-30 10:00:00"), "bad timestamp '2024-02-30 10:00:00'"),
    (make_line(end="2024-03-01 10:00:61"), "bad timestamp '2024-03-01 10:00:61'"),
    (make_line(answer="2024-03-01 1O:00:05"), "bad timestamp '2024-03-01 1O:00:05'"),
    (make_line(end="2024-03-01 09:59:59", answer=""), "end '2024-03-01 09:59:59' is before start"),
    (make_line(answer="2024-03-01 10:02:00"), "answer '2024-03-01 10:02:00' is outside start"),
    (make_line(duration="1.5"), "duration must be a whole number of seconds, got '1.5'"),
    (make_line(duration="-3"), "duration must be a whole number of seconds, got '-3'"),
    (make_line(duration=" 65"), "duration must be a whole number of seconds"),
    (make_line(billsec="1_0"), "billsec must be a whole number of seconds"),
    (make_line(billsec="６０"), "billsec must be a whole number of seconds"),
    (make_line(billsec=""), "billsec must be a whole number of seconds, got ''"),
    (make_line(duration="9" * 11), "duration must be a whole number of seconds"),
    (make_line(duration="9" * 5000), "duration must be a whole number of seconds, got '99999"),
    (make_line(src="a\nb").replace(b'"a\nb"', b"a\nb"), "bad CSV: new-line character seen in unquoted field"),
    (make_line(answer="", billsec="70"), "billsec 70 is longer than the call"),
    (make_line(uniqueid=""), "empty uniqueid"),
    (make_line(dcontext="x").replace(b'"x"', b'"x"y'), "bad CSV: ',' expected after '\"'"),
    (make_line(userfield="x").replace(b'"x"', b'"x'), "bad CSV: unexpected end of data"),
])
def test_malformed_lines_say_why(line, reason):
    with pytest.raises(RecordError) as error:
        parse_asterisk_csv(line, 0, ctx())
    assert reason in str(error.value)


def test_bad_offset_becomes_record_error():
    with pytest.raises(RecordError, match="source_offset"):
        parse_asterisk_csv(make_line(), -1, ctx())


def test_parser_metadata():
    assert parse_asterisk_csv.format_name == "asterisk_csv"
    assert parse(make_line())["source_format"] == "asterisk_csv"


# --- fuzz: only CDR, None or RecordError may come out ---------------------------------------

def assert_contract(line: bytes, tz: ZoneInfo = UTC) -> None:
    assert_line_contract(parse_asterisk_csv, line, 0, ctx(tz))


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(line):
    assert_contract(line)


def timestamp_text() -> st.SearchStrategy[str]:
    def fmt(y, mo, d, h, mi, s):
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
    return st.one_of(
        st.builds(fmt, st.integers(2016, 2018), st.integers(1, 12), st.integers(1, 28),
                  st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)),
        st.builds(fmt, st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32),
                  st.integers(0, 25), st.integers(0, 61), st.integers(0, 61)),
        st.sampled_from(["", "2017-11-05 01:30:00", "2017-03-12 02:30:00", "2024-03-01T10:00:00",
                         "2024-03-01 10:00:00.5", "9999-12-31 23:59:59", "0001-01-01 00:00:00"]),
        st.text(max_size=22),
    )


# Values that reach every check: times, second counts, channel names, dispositions, and junk.
VALUES = st.one_of(
    timestamp_text(),
    st.integers(0, 100_000).map(str),
    st.integers(-10**30, 10**30).map(str),
    st.integers(1, 6000).map(lambda n: "7" * n),
    st.sampled_from(["", "1.5", " 7", "+7", "1_0", "²", "٣", "0x10", 'a"b', "a,b", "Müller", "\n",
                     "ANSWERED", "NO ANSWER", "BUSY", "CONGESTION", "FAILED", "NOT_AVAILABLE",
                     "SIP/carrierA-00000012", "PJSIP/TG-VZ-01-0000001a", "DAHDI/1-1", "/", "-",
                     "Local/100@from-internal-0001;1", "SIP/", "SIP/-", "IAX2/peer-"]),
    st.text(max_size=12),
)
SEED_LINES = [line for _, line in sample_lines()] + [make_line(n) for n in (18, 19, 20, 21)]
SEED_ROWS = [next(csv.reader([line.decode()])) for line in SEED_LINES]


@st.composite
def column_mutants(draw) -> bytes:
    """A valid row with some columns replaced and its column count changed, re-quoted or not."""
    row = list(draw(st.sampled_from(SEED_ROWS)))
    for index, value in draw(st.lists(st.tuples(st.integers(0, 20), VALUES), max_size=4)):
        if index < len(row):
            row[index] = value
    count = draw(st.one_of(st.just(len(row)), st.integers(0, 24)))
    row = (row + ["x"] * 24)[:count]
    if draw(st.booleans()):
        out = io.StringIO()
        csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="").writerow(row)
        text = out.getvalue()
    else:
        text = ",".join(row)  # unescaped quotes and commas
    return (text + draw(st.sampled_from(["", "\n", "\r\n"]))).encode()


@st.composite
def byte_mutants(draw) -> bytes:
    """A valid line with a few bytes cut out and random bytes put in their place."""
    line = draw(st.sampled_from(SEED_LINES))
    at = draw(st.integers(0, len(line)))
    return line[:at] + draw(st.binary(max_size=3)) + line[at + draw(st.integers(0, 4)):]


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.one_of(column_mutants(), byte_mutants()), st.sampled_from(ZONES))
def test_fuzz_mutated_valid_lines(line, tz):
    assert_contract(line, tz)


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(2_000), deadline=None, database=None)
@given(st.text(max_size=12), st.text(max_size=40))
@example("pbx-hq", "1.0")
@example("ünï", "")
def test_make_cdr_id_is_uuid5(source, native):
    import uuid

    from cdrflow.schemas.cdr import CDR_NAMESPACE

    assert make_cdr_id(source, native) == str(uuid.uuid5(CDR_NAMESPACE, f"{source}\x1f{native}"))


def test_uuid5_text_takes_sha1_digests_only():
    from cdrflow.schemas._uuid5 import from_sha1

    with pytest.raises(ValueError, match="20 bytes"):
        from_sha1(b"\x00" * 16)
