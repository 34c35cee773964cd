"""The format registry: every format says which canonical CDR fields it fills."""
from __future__ import annotations

from cdrflow.producers.formats import FORMATS, describe_formats
from cdrflow.schemas.cdr import CDR


def test_every_format_lists_real_cdr_fields():
    described = describe_formats()
    assert [name for name, _, _ in described] == list(FORMATS)
    for name, summary, fields in described:
        assert summary, name
        assert "start_ms" in fields and set(fields) <= set(CDR.model_fields), name
