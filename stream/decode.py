"""Decode: Kafka message payloads → validated CDR dicts, and dead letters for what is not."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import msgspec

from cdrflow.schemas.cdr import CDRWire, check_wire
from cdrflow.schemas.envelope import SCHEMA_VERSION, DeadLetter, EnvelopeError, decode_batch, truncate_raw

# the envelope and every record read and checked in one pass (schemas/cdr.py CDRWire)
_ENVELOPE = msgspec.json.Decoder(msgspec.defstruct("Envelope", [("v", int), ("source", str), ("cdrs", list[CDRWire])]))


@dataclass
class Decoded:
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_messages(messages: Iterable[tuple[bytes, str]]) -> Decoded:
    """messages: (payload, position). A message that fails the one-pass check is read again record
    by record, so only its bad records are set aside (and an envelope that is not one, whole)."""
    out = Decoded()
    for payload, position in messages:
        try:
            envelope = _ENVELOPE.decode(payload)
            if envelope.v == SCHEMA_VERSION:
                out.cdrs.extend(msgspec.to_builtins(envelope.cdrs))
                continue
        except msgspec.DecodeError:     # ValidationError included
            pass
        try:
            cdrs = decode_batch(payload)
        except EnvelopeError as exc:
            out.dead_letters.append(DeadLetter(stage="decode", reason=str(exc), source="kafka",
                                               position=position, raw=truncate_raw(payload)))
            continue
        for index, cdr in enumerate(cdrs):
            try:
                out.cdrs.append(check_wire(cdr))
            except msgspec.ValidationError as exc:
                source = cdr.get("source", "unknown") if isinstance(cdr, dict) else "unknown"
                out.dead_letters.append(DeadLetter(
                    stage="decode", reason=f"invalid CDR: {exc}", source=str(source), position=f"{position}#{index}",
                    source_format=cdr.get("source_format") if isinstance(cdr, dict) else None,
                    raw=truncate_raw(repr(cdr))))
    return out
