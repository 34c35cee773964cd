"""The wire format: many CDRs per Kafka message (Faust pays per message), orjson-encoded."""
from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, Field

from .cdr import CDR

SCHEMA_VERSION = 1


class CDRBatch(BaseModel):
    """One Kafka message on the CDR topic."""

    v: int = Field(SCHEMA_VERSION, description="Envelope schema version")
    source: str
    cdrs: list[CDR]


class DeadLetter(BaseModel):
    """A record no stage could turn into a CDR: kept with the reason and where it came from."""

    v: int = SCHEMA_VERSION
    stage: str = Field(description="parse (producer) or decode/enrich (worker)")
    reason: str
    source: str
    source_format: str | None = None
    position: str = Field(description="file:offset for files, topic/partition@offset for Kafka")
    raw: str = Field(description="The offending bytes, decoded as UTF-8 with replacement, truncated")


class EnvelopeError(ValueError):
    pass


def encode_batch(source: str, cdrs: list[dict[str, Any]]) -> bytes:
    """cdrs are CDR.model_dump() dicts: producers validate once, the wire carries plain JSON."""
    return orjson.dumps({"v": SCHEMA_VERSION, "source": source, "cdrs": cdrs})


def decode_batch(payload: bytes) -> list[dict[str, Any]]:
    """The CDR dicts of one message; EnvelopeError when it is not a batch this version reads."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("cdrs"), list):
        raise EnvelopeError("not a CDR batch envelope (no 'cdrs' list)")
    if doc.get("v") != SCHEMA_VERSION:
        raise EnvelopeError(f"unsupported envelope version {doc.get('v')!r}")
    return doc["cdrs"]


def encode_dead_letter(letter: DeadLetter) -> bytes:
    return orjson.dumps(letter.model_dump())


def truncate_raw(raw: bytes | str, limit: int = 4096) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return text if len(text) <= limit else text[:limit] + "…"
