"""Kamailio acc parser (a record-grouping stage), pinned to the real dSIPRouter acc table.

Expected figures were counted with awk over the file, not with the parser (every row has 18
comma-separated fields, none quoted: `awk -F, '{print NF}' | sort | uniq -c` → 553 × 18):
- INVITE rows whose final reply is neither 200 nor a 401/407 challenge, one call each:
  `awk -F, '$2=="INVITE" && $6!=200 && $6!=401 && $6!=407 {print $6}' | sort | uniq -c`
  → 403 × 24, 487 × 31, 488 × 4 = 59 unanswered calls;
- INVITE 200 rows: 225, no Call-ID twice (`uniq -d` empty), so 225 answered calls; pairing each
  with the first later BYE of its Call-ID (awk arrays, `date -u -d ... +%s` for both times)
  closes all 225: talk time 12,179 s in total; the BYE's From tag is the INVITE's From tag 184
  times (caller hung up) and its To tag 41 times (callee); the other 7 BYE rows are second BYEs.
So 284 calls: q850 16 × 225, 21 × 24 (403, RFC 3398), 127 × 4 (488), none × 31 (487 → abandoned).
"""
from __future__ import annotations

import pytest

import csv
import io
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

from cdrflow.producers.formats import parser_for
from cdrflow.producers.kamailio_acc import parse_kamailio_acc
from cdrflow.producers.parsing import (
    CDRRecord,
    GroupingParser,
    RecordError,
    SourceContext,
)
from cdrflow.schemas.causes import classify
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.files import lines_of
from support.wire import assert_wire
from support.fuzz import fuzz_examples

SAMPLES = Path(__file__).resolve().parent / "fixtures" / "samples" / "kamailio_acc"
SAMPLE = SAMPLES / "dsiprouter_acc.csv"
GATEWAYS = SAMPLES / "dsiprouter_dr_gateways.csv"
UTC = ZoneInfo("UTC")
CTX = SourceContext(source="kamailio-1", source_file="/var/log/kamailio/acc.csv", timezone=UTC)


LINES = lines_of(SAMPLE.read_bytes())
HEADER = LINES[0][1]


def run(lines: list[tuple[int, bytes]], ctx: SourceContext = CTX) -> list[CDRRecord]:
    parser = parse_kamailio_acc.for_file(lines[0][1])
    cdrs = [cdr for offset, line in lines if (cdr := parser(line, offset, ctx)) is not None]
    return cdrs + parser.drain(final=True)


def acc(*rows: str) -> list[tuple[int, bytes]]:
    return lines_of(HEADER + "".join(row + "\n" for row in rows).encode())


def row(method: str, code: int, time: str, call_id: str = "c1", from_tag: str = "ft", to_tag: str = "tt") -> str:
    return f"1,{method},{from_tag},{to_tag},{call_id},{code},x,{time},10.0.0.1,100,100,d,200,d,0,,1,2"


def test_registered():
    assert parser_for("kamailio_acc") is parse_kamailio_acc
    assert isinstance(parse_kamailio_acc.for_file(HEADER), GroupingParser)


def test_sample_totals():
    cdrs = run(LINES)
    assert len(cdrs) == 284
    assert sum(c["answer_ms"] is not None for c in cdrs) == 225
    assert sum(c["billable_ms"] for c in cdrs) == 12_179_000
    assert sum(c["duration_ms"] for c in cdrs) == 12_179_000  # acc logs no INVITE time: start = answer
    assert Counter(c["q850_cause"] for c in cdrs) == {16: 225, 21: 24, 127: 4, None: 31}
    assert Counter(c["sip_code"] for c in cdrs) == {200: 225, 403: 24, 487: 31, 488: 4}
    assert Counter(c["disconnect_initiator"] for c in cdrs) == {"caller": 184 + 31, "callee": 41, None: 28}
    assert Counter(classify(c["answer_ms"] is not None, c["q850_cause"], c["sip_code"]) for c in cdrs) == \
           {"answered": 225, "user": 24, "network": 4, "abandoned": 31}
    assert len({c["cdr_id"] for c in cdrs}) == 284
    assert [c["cdr_id"] for c in run(LINES)] == [c["cdr_id"] for c in cdrs]  # re-reading keeps the ids


def test_sample_trunks_are_dr_gateway_groups():
    cdrs = run(LINES)
    groups = {g for c in cdrs for g in (c["ingress_trunk"], c["egress_trunk"]) if g}
    # gwgroup:1 is "Twilio NA-Virginia Carrier" in dr_gateways' attrs
    twilio = [r for r in csv.DictReader(GATEWAYS.open()) if "gwgroup:1," in r["description"] + ","]
    assert twilio and all("Twilio" in r["description"] for r in twilio)
    assert "gwgroup:1" in groups
    first = cdrs[0]  # line 3, after the 401 challenge on line 2: a 487 cancel
    assert (first["sip_code"], first["ingress_trunk"], first["egress_trunk"], first["source_offset"]) == \
           (487, "gwgroup:56", "gwgroup:1", 363)
    assert (first["calling_number"], first["called_number"], first["start_ms"]) == ("2000", "2000", 1_752_798_999_000)


def test_pairs_invite_and_bye_and_finds_who_hung_up():
    cdrs = run(acc(row("INVITE", 401, "2025-01-01 10:00:00"),
                   row("INVITE", 200, "2025-01-01 10:00:02"),
                   row("BYE", 200, "2025-01-01 10:01:02", from_tag="tt", to_tag="ft"),
                   row("BYE", 481, "2025-01-01 10:01:03")))
    assert len(cdrs) == 1
    cdr = cdrs[0]
    assert (cdr["answer_ms"], cdr["end_ms"] - cdr["answer_ms"], cdr["billable_ms"]) == \
           (1_735_725_602_000, 60_000, 60_000)
    assert (cdr["disconnect_initiator"], cdr["sip_code"], cdr["q850_cause"]) == ("callee", 200, 16)
    assert cdr["source_offset"] == acc()[0][0] + len(HEADER) + len(row("INVITE", 401, "2025-01-01 10:00:00")) + 1


def test_held_call_holds_the_checkpoint_and_expires():
    lines = acc(row("INVITE", 200, "2025-01-01 10:00:00", call_id="long"),
                row("INVITE", 486, "2025-01-01 11:00:00", call_id="busy"),
                row("INVITE", 486, "2025-01-01 22:00:01", call_id="later"))
    parser = parse_kamailio_acc.for_file(HEADER)
    assert parser(lines[1][1], lines[1][0], CTX) is None
    assert parser.held_from() == lines[1][0]
    assert parser(lines[2][1], lines[2][0], CTX)["q850_cause"] == 17
    assert parser.drain(final=False) == []  # 1 h later: still a call
    parser(lines[3][1], lines[3][0], CTX)
    expired = parser.drain(final=False)  # 12 h later: given up, its end unknown
    assert [(c["call_id"], c["billable_ms"], c["disconnect_initiator"]) for c in expired] == [("long", 0, None)]
    assert parser.held_from() is None


def test_bye_without_invite_is_not_a_call():
    assert run(acc(row("BYE", 200, "2025-01-01 10:00:00"))) == []


def test_bad_rows_say_why():
    parser = parse_kamailio_acc.for_file(HEADER)
    for bad, reason in [(row("INVITE", 99, "2025-01-01 10:00:00"), "sip_code 99 is not a SIP status"),
                        (row("INVITE", 200, "2025-01-01 10:00"), "bad timestamp"),
                        (row("INVITE", 200, "2025-01-01 10:00:00", call_id=""), "empty callid"),
                        ("1,INVITE,a", "expected 18 columns")]:
        try:
            parser(bad.encode(), 0, CTX)
        except RecordError as e:
            assert reason in str(e)
        else:
            raise AssertionError(reason)
    try:
        parse_kamailio_acc.for_file(b"id,method\n")(LINES[1][1], 0, CTX)
    except RecordError as e:
        assert "lacks column(s) from_tag, to_tag, callid, sip_code, time" in str(e)


# --- fuzzing --------------------------------------------------------------------------------

SEED_ROWS = [next(csv.reader([line.decode()])) for _, line in LINES[1:80]]
VALUES = st.one_of(
    st.sampled_from(["", "INVITE", "BYE", "bye", "ACK", "200", "401", "487", "699", "700", "1.5",
                     "2025-07-18 00:36:35", "2025-07-18 24:00:00", "0000-00-00 00:00:00", "²", "a,b",
                     'a"b', "\n", "6gctvgn638rp4ffo6hg3", "gj5nvj520l"]),
    st.integers(-10**6, 10**6).map(str),
    st.text(max_size=10),
)


@st.composite
def mutated_line(draw) -> bytes:
    fields = list(draw(st.sampled_from(SEED_ROWS)))
    for index, value in draw(st.lists(st.tuples(st.integers(0, 19), VALUES), max_size=2)):
        if index < len(fields):
            fields[index] = value
    count = draw(st.one_of(st.just(len(fields)), st.integers(0, 20)))
    fields = (fields + ["x"] * 20)[:count]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    line = out.getvalue().encode()
    if draw(st.booleans()):
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(st.binary(max_size=3)) + line[at + draw(st.integers(0, 4)):]
    return line


@pytest.mark.fuzz
@settings(max_examples=fuzz_examples(10_000), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(mutated_line(), min_size=1, max_size=3))
def test_fuzz_grouping(lines):
    """Any sequence of rows through one file's parser: CDRs, None or RecordError, nothing else."""
    parser = parse_kamailio_acc.for_file(HEADER)
    offset = len(HEADER)
    for line in lines:
        try:
            cdr = parser(line, offset, CTX)
            assert cdr is None or cdr["start_ms"] <= cdr["end_ms"]
            if cdr is not None:
                assert_wire(cdr)
        except RecordError as e:
            assert str(e)
        offset += len(line)
    for cdr in parser.drain(final=True):
        assert_wire(cdr)
        assert cdr["billable_ms"] == cdr["end_ms"] - cdr["answer_ms"]
