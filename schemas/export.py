"""JSON Schema of the wire contracts, for consumers written in other languages."""
from __future__ import annotations

from .envelope import CDRBatch, DeadLetter


def json_schemas() -> dict[str, dict]:
    return {"cdr_batch": CDRBatch.model_json_schema(), "dead_letter": DeadLetter.model_json_schema()}
