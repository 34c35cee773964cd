"""The worker's decode: wire records are checked exactly as the CDR model checks them, whether
the whole envelope passes the one-pass check or its records are read again one by one."""
from __future__ import annotations

import pytest
from cdrflow.infra.config import Settings
from cdrflow.producers.simulate import default_config, generate
from cdrflow.schemas.cdr import CDR
from cdrflow.schemas.envelope import encode_batch
from cdrflow.stream.decode import decode_messages
from pydantic import ValidationError

GOOD = next(iter(generate(default_config(Settings(), seed=3, start_ms=1_795_000_000_000), count=1)))
BAD = [
    {"duration_ms": -1},                 # constraint ge=0
    {"pdd_ms": "120"},                   # strict: no str → int
    {"sip_code": 99},                    # constraint ge=100
    {"record_kind": "middle"},           # not one of the literals
    {"start_ms": 1.5},                   # strict: no float → int
    {"surprise": 1},                     # extra keys are refused
    {"answer_ms": None, "q850_cause": None, "direction": "sideways"},
    {"answer_ms": GOOD["start_ms"], "q850_cause": 19},   # answered, yet "no answer"
    {"answer_ms": GOOD["start_ms"], "q850_cause": 17},   # answered, yet busy
]


@pytest.mark.parametrize("change", BAD)
def test_bad_records_become_dead_letters_exactly_when_the_model_refuses_them(change):
    record = {**GOOD, **change}
    with pytest.raises(ValidationError):
        CDR.model_validate(record, strict=True)
    decoded = decode_messages([(encode_batch("s", [GOOD, record, GOOD]), "cdr.batches/0@7")])
    assert len(decoded.cdrs) == 2
    [letter] = decoded.dead_letters
    assert letter.position == "cdr.batches/0@7#1" and letter.reason.startswith("invalid CDR: ")
    assert decoded.cdrs.rows() == [GOOD, GOOD]


def test_good_envelopes_pass_as_received_and_foreign_ones_are_dead_letters():
    decoded = decode_messages([(encode_batch("s", [GOOD, GOOD]), "p@1"), (b'{"v": 9, "cdrs": []}', "p@2"),
                               (b"not json", "p@3"), (b'{"v": 1, "source": "s"}', "p@4")])
    assert decoded.cdrs.rows() == [GOOD, GOOD]
    assert [(d.position, d.reason.split(" ")[0]) for d in decoded.dead_letters] == [
        ("p@2", "unsupported"), ("p@3", "not"), ("p@4", "not")]


def test_missing_required_field_is_refused_and_good_records_pass_as_received():
    record = {k: v for k, v in GOOD.items() if k != "end_ms"}
    decoded = decode_messages([(encode_batch("s", [record, GOOD]), "p")])
    assert decoded.cdrs.rows() == [GOOD] and "end_ms" in decoded.dead_letters[0].reason
    CDR.model_validate(GOOD, strict=True)


@pytest.mark.parametrize("cause, refused", [(16, False), (31, False), (41, False), (None, False), (17, True),
                                            (18, True), (19, True), (21, True), (1, True), (3, True)])
def test_an_answered_cdr_never_carries_a_non_answer_cause(cause, refused):
    from cdrflow.producers.cdr_record import checked
    from cdrflow.producers.parsing import RecordError
    from cdrflow.schemas.cdr import check_wire
    import msgspec

    answered = {**GOOD, "answer_ms": GOOD["start_ms"], "q850_cause": cause}
    unanswered = {**answered, "answer_ms": None, "billable_ms": 0}
    assert CDR.model_validate(unanswered, strict=True) and check_wire(unanswered) and checked(dict(unanswered))
    if not refused:
        assert CDR.model_validate(answered, strict=True) and check_wire(answered) and checked(dict(answered))
        return
    with pytest.raises(ValidationError, match="says the call was not answered"):
        CDR.model_validate(answered, strict=True)
    with pytest.raises(msgspec.ValidationError, match="says the call was not answered"):
        check_wire(answered)
    with pytest.raises(RecordError, match="says the call was not answered"):
        checked(dict(answered))
