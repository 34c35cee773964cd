"""Per-(interconnect, direction, minute) partial aggregates: what ingest workers tell the detector.

Minutes here are the minute a CDR was written (its end time): a switch writes a CDR when the call
ends, so by end time a minute is complete as soon as the stream has moved past it, while by start
time the answered (long) calls of recent minutes would still be missing and ASR would look low.
The stored NOC figures (interconnect_minute) stay by seizure (start) minute.
"""
from __future__ import annotations

from typing import Any, Iterable

MINUTE_MS = 60_000
SAMPLES_PER_MINUTE = 3     # failed calls kept as evidence, per key and minute
FAILED = ("network", "number", "other")


def empty() -> dict[str, Any]:
    return {"seizures": 0, "answered": 0, "effective": 0, "network": 0, "pdd_sum": 0, "pdd_n": 0,
            "causes": {}, "sip": {}, "samples": []}


def add_cdr(partial: dict[str, Any], cdr: dict[str, Any]) -> None:
    cls = cdr["cause_class"]
    partial["seizures"] += 1
    partial["answered"] += cls == "answered"
    partial["effective"] += cls in ("answered", "user")
    partial["network"] += cls == "network"
    if cdr.get("pdd_ms") is not None:
        partial["pdd_sum"] += cdr["pdd_ms"]
        partial["pdd_n"] += 1
    # JSON object keys are strings: counters are keyed by the code as text end to end
    for field, counter in (("q850_cause", "causes"), ("sip_code", "sip")):
        if cdr.get(field) is not None:
            code = str(cdr[field])
            partial[counter][code] = partial[counter].get(code, 0) + 1
    if cls in FAILED and len(partial["samples"]) < SAMPLES_PER_MINUTE:
        partial["samples"].append({"call_id": cdr["call_id"], "cdr_id": cdr["cdr_id"], "start_ms": cdr["start_ms"],
                                   "q850_cause": cdr.get("q850_cause"), "sip_code": cdr.get("sip_code")})


def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    for field in ("seizures", "answered", "effective", "network", "pdd_sum", "pdd_n"):
        into[field] += other[field]
    for counter in ("causes", "sip"):
        for code, n in other[counter].items():
            into[counter][code] = into[counter].get(code, 0) + n
    into["samples"] = (into["samples"] + other["samples"])[:SAMPLES_PER_MINUTE]
    return into


def partial_messages(cdrs: Iterable[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int | None]:
    """Final records with an interconnect → ({"ic|dir": {"key", "minutes": {minute_ms: partial}}},
    the newest end_ms seen: the event-time watermark these CDRs carry)."""
    messages: dict[str, dict[str, Any]] = {}
    watermark = None
    for cdr in cdrs:
        watermark = cdr["end_ms"] if watermark is None else max(watermark, cdr["end_ms"])
        if not cdr.get("interconnect") or not cdr.get("direction") or cdr.get("record_kind") == "start":
            continue
        key = f'{cdr["interconnect"]}|{cdr["direction"]}'
        minutes = messages.setdefault(key, {"key": key, "minutes": {}})["minutes"]
        minute = str(cdr["end_ms"] // MINUTE_MS * MINUTE_MS)
        add_cdr(minutes.setdefault(minute, empty()), cdr)
    return messages, watermark
