"""Decode: Kafka message payloads → validated CDR dicts, and dead letters for what is not."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from pydantic import TypeAdapter, ValidationError

from cdrflow.schemas.cdr import CDRWire
from cdrflow.schemas.envelope import DeadLetter, EnvelopeError, decode_batch, truncate_raw

_CDR = TypeAdapter(CDRWire)
_CDRS = TypeAdapter(list[CDRWire])


@dataclass
class Decoded:
    cdrs: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"invalid CDR: {where}: {first['msg']} ({exc.error_count()} error(s))"


def decode_messages(messages: Iterable[tuple[bytes, str]]) -> Decoded:
    """messages: (payload, position). Strict validation keeps the wire dicts insertable as they are;
    a batch that fails is re-checked record by record so only the bad records are set aside."""
    out = Decoded()
    for payload, position in messages:
        try:
            cdrs = decode_batch(payload)
        except EnvelopeError as exc:
            out.dead_letters.append(DeadLetter(stage="decode", reason=str(exc), source="kafka",
                                               position=position, raw=truncate_raw(payload)))
            continue
        try:
            _CDRS.validate_python(cdrs, strict=True)
            out.cdrs.extend(cdrs)
            continue
        except ValidationError:
            pass
        for index, cdr in enumerate(cdrs):
            try:
                _CDR.validate_python(cdr, strict=True)
                out.cdrs.append(cdr)
            except ValidationError as exc:
                source = cdr.get("source", "unknown") if isinstance(cdr, dict) else "unknown"
                out.dead_letters.append(DeadLetter(
                    stage="decode", reason=_reason(exc), source=str(source), position=f"{position}#{index}",
                    source_format=cdr.get("source_format") if isinstance(cdr, dict) else None,
                    raw=truncate_raw(repr(cdr))))
    return out
