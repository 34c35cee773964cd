"""Per-(interconnect, direction, minute) partial aggregates: what ingest workers tell the detector.

Minutes here are the minute a CDR was written (its end time): a switch writes a CDR when the call
ends, so by end time a minute is complete as soon as the stream has moved past it, while by start
time the answered (long) calls of recent minutes would still be missing and ASR would look low.
The stored NOC figures (interconnect_minute) stay by seizure (start) minute.

A take is sent in steps of STEP_MS of end time, each followed by a watermark tick, so that the
detector, which judges every STEP_MS of event time, judges each step on the calls that had ended
by then. Sent as one lump, a take that spans 15-25 s of event time (a 10x replay, or a backlog)
would be judged once at its end, and a fault that began inside it seen up to that much later.
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

MINUTE_MS = 60_000
TENTH_MS = 10_000          # sub-minute resolution of "tens" and "quick": six 10-second slices a minute
QUICK_MS = 10_000          # calls shorter than this are "quick": they stop ending at once when a trunk stops
SAMPLES_PER_MINUTE = 3     # failed calls kept as evidence, per key and minute
FAILED = ("network", "number", "other")
SLICES = MINUTE_MS // TENTH_MS
STEP_MS = TENTH_MS         # the detector's judging cadence in event time, and the steps partials are sent in


def empty() -> dict[str, Any]:
    """tens: seizures per 10-second slice of the minute (by end time); quick: the quick calls among them."""
    return {"seizures": 0, "answered": 0, "effective": 0, "network": 0, "pdd_sum": 0, "pdd_n": 0,
            "causes": {}, "sip": {}, "samples": [], "tens": [0] * SLICES, "quick": [0] * SLICES}


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


PARTIAL_FIELDS = ("interconnect", "direction", "record_kind", "call_id", "cdr_id", "start_ms", "end_ms",
                  "cause_class", "q850_cause", "sip_code", "pdd_ms")


def partial_steps(cdrs: list[dict[str, Any]]) -> list[tuple[dict[str, dict[str, Any]], int]]:
    """partial_steps_of CDR dicts."""
    return partial_steps_of({name: [c.get(name) for c in cdrs] for name in PARTIAL_FIELDS})


def partial_steps_of(columns: Mapping[str, Sequence[Any]]) -> list[tuple[dict[str, dict[str, Any]], int]]:
    """Final records with an interconnect, as columns (PARTIAL_FIELDS) → per STEP_MS of end time,
    oldest first: ({"ic|dir": {"key", "minutes": {minute_ms: partial}, "newest_ms"}}, the step's
    end). newest_ms is the key's newest call end in the step: how far the detector has seen that
    interconnect.

    Runs on the ingest hot path: the rows are grouped by (key, 10-s slice, outcome) with Counter
    over zipped columns, and per-row Python is kept to the PDD sums, newest ends and a few samples."""
    ics, directions, kinds = columns["interconnect"], columns["direction"], columns["record_kind"]
    final = [i for i, (ic, d, kind) in enumerate(zip(ics, directions, kinds)) if ic and d and kind != "start"]
    if not final:
        return []
    ics, directions = [ics[i] for i in final], [directions[i] for i in final]
    start, end, classes = ([columns[name][i] for i in final] for name in ("start_ms", "end_ms", "cause_class"))
    q850, sip, pdd = ([columns[name][i] for i in final] for name in ("q850_cause", "sip_code", "pdd_ms"))
    tenths = [e // TENTH_MS for e in end]
    outcomes = Counter(zip(ics, directions, tenths, [e - s < QUICK_MS for s, e in zip(start, end)], classes, q850,
                           sip))
    steps: dict[int, dict[str, dict[str, Any]]] = {}

    def message(ic: str, direction: str, end_ms: int) -> dict[str, Any]:
        key = f"{ic}|{direction}"
        step = steps.setdefault(end_ms // STEP_MS, {})
        if key not in step:
            step[key] = {"key": key, "minutes": {str(end_ms // MINUTE_MS * MINUTE_MS): empty()}, "newest_ms": 0}
        return step[key]

    def partial(m: dict[str, Any]) -> dict[str, Any]:
        return next(iter(m["minutes"].values()))     # a step lies inside one minute

    for (ic, direction, tenth, quick, cls, q850_cause, sip_code), n in outcomes.items():
        p = partial(message(ic, direction, tenth * TENTH_MS))
        p["tens"][tenth % SLICES] += n
        if quick:
            p["quick"][tenth % SLICES] += n
        p["seizures"] += n
        p["answered"] += n if cls == "answered" else 0
        p["effective"] += n if cls in ("answered", "user") else 0
        p["network"] += n if cls == "network" else 0
        for code, counter in ((q850_cause, "causes"), (sip_code, "sip")):
            if code is not None:
                p[counter][str(code)] = p[counter].get(str(code), 0) + n
    groups = list(zip(ics, directions, [e // STEP_MS for e in end]))
    for group, newest in _max_by(groups, end).items():
        m = steps[group[2]][f"{group[0]}|{group[1]}"]
        m["newest_ms"] = newest
    for group, (total, n) in _sum_by(groups, pdd).items():
        p = partial(steps[group[2]][f"{group[0]}|{group[1]}"])
        p["pdd_sum"] += total
        p["pdd_n"] += n
    cdr_ids, call_ids = columns["cdr_id"], columns["call_id"]
    for row, (group, cls) in enumerate(zip(groups, classes)):
        if cls in FAILED:
            samples = partial(steps[group[2]][f"{group[0]}|{group[1]}"])["samples"]
            if len(samples) < SAMPLES_PER_MINUTE:
                i = final[row]
                samples.append({"call_id": call_ids[i], "cdr_id": cdr_ids[i], "start_ms": start[row],
                                "q850_cause": q850[row], "sip_code": sip[row]})
    return [(steps[s], (s + 1) * STEP_MS) for s in sorted(steps)]


def _max_by(groups: list[tuple], values: list[int]) -> dict[tuple, int]:
    newest: dict[tuple, int] = {}
    for group, value in zip(groups, values):
        if value > newest.get(group, 0):
            newest[group] = value
    return newest


def _sum_by(groups: list[tuple], values: list[int | None]) -> dict[tuple, tuple[int, int]]:
    """group → (sum, count) of its values that are not None."""
    sums: Counter = Counter()
    counts: Counter = Counter()
    for group, value in zip(groups, values):
        if value is not None:
            sums[group] += value
            counts[group] += 1
    return {group: (sums[group], counts[group]) for group in counts}


def partial_messages(cdrs: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], int | None]:
    """partial_steps merged into one message per key (minutes, newest_ms), and the newest end_ms
    of all the records: for callers that judge a batch at once rather than step by step."""
    merged: dict[str, dict[str, Any]] = {}
    for messages, _ in partial_steps(cdrs):
        for key, m in messages.items():
            into = merged.setdefault(key, {"key": key, "minutes": {}, "newest_ms": 0})
            into["newest_ms"] = max(into["newest_ms"], m["newest_ms"])
            for minute, p in m["minutes"].items():
                into["minutes"][minute] = merge(into["minutes"].get(minute) or empty(), p)
    return merged, max((c["end_ms"] for c in cdrs), default=None)
