"""Per-(interconnect, direction, minute) partial aggregates: what ingest workers tell the detector.

Minutes here are the minute a CDR was written (its end time): a switch writes a CDR when the call
ends, so by end time a minute is complete as soon as the stream has moved past it, while by start
time the answered (long) calls of recent minutes would still be missing and ASR would look low.
The stored NOC figures (interconnect_minute) stay by seizure (start) minute.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

MINUTE_MS = 60_000
TENTH_MS = 10_000          # sub-minute resolution of "tens" and "quick": six 10-second slices a minute
QUICK_MS = 10_000          # calls shorter than this are "quick": they stop ending at once when a trunk stops
SAMPLES_PER_MINUTE = 3     # failed calls kept as evidence, per key and minute
FAILED = ("network", "number", "other")
SLICES = MINUTE_MS // TENTH_MS


def empty() -> dict[str, Any]:
    """tens: seizures per 10-second slice of the minute (by end time); quick: the quick calls among them."""
    return {"seizures": 0, "answered": 0, "effective": 0, "network": 0, "pdd_sum": 0, "pdd_n": 0,
            "causes": {}, "sip": {}, "samples": [], "tens": [0] * SLICES, "quick": [0] * SLICES}


def sample(cdr: dict[str, Any]) -> dict[str, Any]:
    """A failed call kept as evidence for the carrier: what they need to find it in their logs."""
    return {"call_id": cdr["call_id"], "cdr_id": cdr["cdr_id"], "start_ms": cdr["start_ms"],
            "q850_cause": cdr.get("q850_cause"), "sip_code": cdr.get("sip_code")}


def merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    for field in ("seizures", "answered", "effective", "network", "pdd_sum", "pdd_n"):
        into[field] += other[field]
    for counter in ("causes", "sip"):
        for code, n in other[counter].items():
            into[counter][code] = into[counter].get(code, 0) + n
    into["samples"] = (into["samples"] + other["samples"])[:SAMPLES_PER_MINUTE]
    for sliced in ("tens", "quick"):     # absent from state written before they existed
        into[sliced] = [a + b for a, b in zip(into.get(sliced) or [0] * SLICES, other.get(sliced) or [0] * SLICES)]
    return into


def partial_messages(cdrs: Iterable[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int | None]:
    """Final records with an interconnect → ({"ic|dir": {"key", "minutes": {minute_ms: partial}}},
    the newest end_ms seen: the event-time watermark these CDRs carry).

    Runs on the ingest hot path (~1 µs a CDR): records are counted by (key, minute, outcome)
    with Counter, and per-record Python is kept to the PDD sums and the few evidence samples."""
    cdrs = cdrs if isinstance(cdrs, list) else list(cdrs)
    watermark = max((c["end_ms"] for c in cdrs), default=None)
    final = [c for c in cdrs if c.get("interconnect") and c.get("direction") and c.get("record_kind") != "start"]
    # one pass: counted by 10-second slice and quickness too, summed into minutes below
    outcomes = Counter((c["interconnect"], c["direction"], c["end_ms"] // TENTH_MS, c["end_ms"] - c["start_ms"] < QUICK_MS,
                        c["cause_class"], c.get("q850_cause"), c.get("sip_code")) for c in final)
    messages: dict[str, dict[str, Any]] = {}

    def partial(ic: str, direction: str, minute: int) -> dict[str, Any]:
        key = f"{ic}|{direction}"
        minutes = messages.setdefault(key, {"key": key, "minutes": {}})["minutes"]
        return minutes.setdefault(str(minute * MINUTE_MS), empty())

    for (ic, direction, tenth, quick, cls, q850, sip), n in outcomes.items():
        p = partial(ic, direction, tenth // SLICES)
        p["tens"][tenth % SLICES] += n
        if quick:
            p["quick"][tenth % SLICES] += n
        p["seizures"] += n
        p["answered"] += n if cls == "answered" else 0
        p["effective"] += n if cls in ("answered", "user") else 0
        p["network"] += n if cls == "network" else 0
        for code, counter in ((q850, "causes"), (sip, "sip")):
            if code is not None:
                p[counter][str(code)] = p[counter].get(str(code), 0) + n
    for c in final:
        if c.get("pdd_ms") is not None:
            p = partial(c["interconnect"], c["direction"], c["end_ms"] // MINUTE_MS)
            p["pdd_sum"] += c["pdd_ms"]
            p["pdd_n"] += 1
    for c in (c for c in final if c["cause_class"] in FAILED):
        p = partial(c["interconnect"], c["direction"], c["end_ms"] // MINUTE_MS)
        if len(p["samples"]) < SAMPLES_PER_MINUTE:
            p["samples"].append(sample(c))
    return messages, watermark
