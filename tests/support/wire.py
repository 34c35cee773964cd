"""What a parser's record must be on the wire (see producers/cdr_record.py): the worker's strict
CDRWire check passes, and the CDR model reads it and dumps the very same dict, so the published
bytes are those a pydantic CDR gave."""
from __future__ import annotations

from cdrflow.producers.parsing import RecordError
from cdrflow.schemas.cdr import CDR, check_wire


def assert_wire(record: object) -> None:
    assert type(record) is dict, type(record)
    assert check_wire(record) == record
    assert CDR.model_validate(record, strict=True).model_dump() == record
    assert list(record) == list(CDR.model_fields)


def assert_line_contract(parser, line: bytes, offset: int, ctx) -> None:
    """A line parser's contract on any line: a RecordError with a reason it chose (not the
    catch-all, which would mean a case the parser does not understand), None for a blank line,
    or a wire record whose times keep their order."""
    try:
        cdr = parser(line, offset, ctx)
    except RecordError as error:
        assert str(error) and not str(error).startswith("cannot parse line")
        return
    if cdr is None:
        assert not line.strip()
        return
    assert_wire(cdr)
    assert cdr["start_ms"] <= cdr["end_ms"] and cdr["source_offset"] == offset
    assert cdr["answer_ms"] is None or cdr["start_ms"] <= cdr["answer_ms"] <= cdr["end_ms"]
    assert cdr["answer_ms"] is not None or cdr["billable_ms"] == 0


def parsed_alone(parser, line: bytes, offset: int, ctx) -> list:
    """What a line parser makes of one line on its own: [its CDR], or [] for a line it skips or
    refuses; a chunk parse (parse_lines) must give the same CDRs."""
    try:
        cdr = parser(line, offset, ctx)
    except RecordError:
        return []
    return [cdr] if cdr else []
