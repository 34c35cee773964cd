"""What a parser's record must be on the wire (see producers/cdr_record.py): the worker's strict
CDRWire check passes, and the CDR model reads it and dumps the very same dict, so the published
bytes are those a pydantic CDR gave."""
from __future__ import annotations

from pydantic import TypeAdapter

from cdrflow.schemas.cdr import CDR, CDRWire

_WIRE = TypeAdapter(CDRWire)


def assert_wire(record: object) -> None:
    assert type(record) is dict, type(record)
    _WIRE.validate_python(record, strict=True)
    assert CDR.model_validate(record, strict=True).model_dump() == record
    assert list(record) == list(CDR.model_fields)
