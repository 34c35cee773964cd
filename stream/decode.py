"""Decode: Kafka message payloads → checked CDRs as columns, and dead letters for what is not."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import msgspec

from cdrflow.schemas.cdr import CDRRow
from cdrflow.schemas.envelope import SCHEMA_VERSION, DeadLetter, EnvelopeError, decode_batch, truncate_raw

from cdrflow.stream.columns import Columns

# the envelope and every record read and checked in one pass (schemas/cdr.py CDRRow: CDRWire's
# check, a field left out taking the model's default)
_ENVELOPE = msgspec.json.Decoder(msgspec.defstruct("Envelope", [("v", int), ("source", str), ("cdrs", list[CDRRow])]))


@dataclass
class Decoded:
    cdrs: Columns
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)     # CDRs read from each message, in order


def decode_messages(messages: Iterable[tuple[bytes, str]]) -> Decoded:
    """messages: (payload, position). A message that fails the one-pass check is read again record
    by record, so only its bad records are set aside (and an envelope that is not one, whole)."""
    columns = Columns.empty()
    letters: list[DeadLetter] = []
    counts: list[int] = []
    for payload, position in messages:
        try:
            envelope = _ENVELOPE.decode(payload)
            if envelope.v == SCHEMA_VERSION:
                columns.extend(envelope.cdrs)
                counts.append(len(envelope.cdrs))
                continue
        except msgspec.DecodeError:     # ValidationError included
            pass
        try:
            cdrs = decode_batch(payload)
        except EnvelopeError as exc:
            letters.append(DeadLetter(stage="decode", reason=str(exc), source="kafka",
                                      position=position, raw=truncate_raw(payload)))
            counts.append(0)
            continue
        rows: list[Any] = []
        for index, cdr in enumerate(cdrs):
            try:
                rows.append(msgspec.convert(cdr, CDRRow))
            except msgspec.ValidationError as exc:
                source = cdr.get("source", "unknown") if isinstance(cdr, dict) else "unknown"
                letters.append(DeadLetter(
                    stage="decode", reason=f"invalid CDR: {exc}", source=str(source), position=f"{position}#{index}",
                    source_format=cdr.get("source_format") if isinstance(cdr, dict) else None,
                    raw=truncate_raw(repr(cdr))))
        columns.extend(rows)
        counts.append(len(rows))
    return Decoded(columns, letters, counts)
