"""Interconnect incident detection: pure decisions over per-minute partials (incidents/partials.py).

The Faust detector agent (stream/detector_agent.py) keeps one state per "interconnect|direction"
(changelogged by stream/detector_tables.py), calls `absorb` for each partials message and
`evaluate` when the event-time watermark closes a minute. Each closed minute m is judged once, on
the window of the `window_minutes` minutes ending at m, and on minute m alone (a big interconnect
that collapses is seen within a minute; a small one needs the window to gather min_seizures),
against the interconnect's baseline (the same hours of previous days where there is history, else
recent hours; see clickhouse/queries/baseline.sql). An incident opens when, with at
least `min_seizures` seizures (expected seizures for a vanish), any of:

  traffic_vanish  seizures ≤ vanish_ratio × expected (baseline seizures/minute × window);
                  counted by CDR end time, calls in progress keep ending for a while after the
                  trunk stops taking new ones, hence a ratio of 0.5 rather than ~0
                  — or, faster, quick calls in the last 20 s (see recent_vanish)
  asr_drop        ASR ≤ baseline ASR − asr_margin
  ner_drop        NER ≤ baseline NER − ner_margin
  network_causes  network-class share > network_share
  pdd_rise        average PDD > pdd_factor × baseline and ≥ pdd_min_rise_ms above it

and in each case the count must also be implausible under the baseline: its exact binomial
(Poisson for a vanish) tail probability below `alpha` (1e-6). That keeps small interconnects from
paging on sampling noise: every key is judged every minute, so a healthy day is ~10⁵ tests per
hundred keys. While open, every judged minute updates the incident (figures, lost calls, evidence);
after quiet_minutes without a breach it resolves. Lost calls = Σ over incident minutes of
max(0, baseline ASR × baseline seizures/minute − answered that minute) from its first to its last
bad minute: calls the interconnect would have completed. Start and end are dated to the first and
last minute past the margins on its own (a run of them, inside significant windows); the window
only says it is on.

Why a vanish needs its own early signal. CDRs are written when calls end, so after a trunk
stops taking calls the answered calls in progress keep ending for minutes and failed ones for up
to a minute (no-answer timers); by end minute the count only falls under half the expected one
after 1-2 minutes, and the running minute still holds the traffic from before the onset: 50-100 s
in the bench. Judging all CDRs of the last 20-30 s instead does not help much: they fall by only
~25 % in the first 30 s (the share of calls shorter than that). What stops at once is the quick
calls (shorter than QUICK_MS: busy, fast failures, declines, short answers, ~20 % of calls): they
are gone QUICK_MS after the onset. So partials also count seizures and quick calls per 10-second
slice of the minute (two lists of six, the only sub-minute state kept), and recent_vanish judges
the last two whole slices against baseline seizures × the key's own quick share. The quick
share falls too when ASR rises (answered calls are long), so the slices' total must also have
fallen by half the quick calls missing: with a real vanish it has, with an ASR rise the longer
calls take their place. Counting calls by start time instead (calls started in the last 30 s
and already ended) would need the duration distribution to know how many should have ended.

Baselines need min_baseline_minutes of traffic (incidents/store.py): a fresh interconnect's first
minutes by seizure time are incomplete (long calls not yet ended) and no measure of its rate.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from cdrflow.infra.config import Thresholds

from cdrflow.incidents.partials import MINUTE_MS, SLICES, TENTH_MS, empty, merge

KEEP_MINUTES = 90          # partials kept per key: the longest window plus slack for late records
MAX_CATCH_UP = 180         # minutes judged at most per evaluate (a replay can jump far ahead)
RUNNING_MIN_SHARE = 1 / 6  # the running minute is judged once 10 s of it have passed
SAMPLES_KEPT = 10
RECENT_SLICES = 2          # the quick-call vanish judges the last 20 s of event time
INCIDENT_NAMESPACE = uuid.UUID("7c1b7f0e-5d0a-4f55-9d3c-3f1de1a2b0c4")


@dataclass(frozen=True)
class Figures:
    """Sums over some minutes, and the ratios the decisions use (None where undefined)."""

    seizures: int = 0
    answered: int = 0
    effective: int = 0
    network: int = 0
    pdd_sum: int = 0
    pdd_n: int = 0
    minutes: float = 1

    @classmethod
    def of(cls, partials: list[dict[str, Any]], minutes: float) -> "Figures":
        return cls(**{f: sum(p[f] for p in partials) for f in ("seizures", "answered", "effective", "network",
                                                               "pdd_sum", "pdd_n")}, minutes=minutes)

    def _share(self, part: int) -> float | None:
        return part / self.seizures if self.seizures else None

    @property
    def asr(self) -> float | None:
        return self._share(self.answered)

    @property
    def ner(self) -> float | None:
        return self._share(self.effective)

    @property
    def network_share(self) -> float | None:
        return self._share(self.network)

    @property
    def pdd_avg_ms(self) -> float | None:
        return self.pdd_sum / self.pdd_n if self.pdd_n else None

    @property
    def per_minute(self) -> float:
        return self.seizures / self.minutes

    def summary(self) -> dict[str, Any]:
        return {"seizures": self.seizures, "answered": self.answered, "asr": self.asr, "ner": self.ner,
                "network_share": self.network_share, "pdd_avg_ms": self.pdd_avg_ms,
                "seizures_per_minute": self.per_minute}


def binomial_tail(k: int, n: int, p: float, lower: bool) -> float:
    """P(X ≤ k) (lower) or P(X ≥ k) for X ~ Binomial(n, p), summed term by term.

    Exact, not a normal approximation: for ratios near 1 (NER ≈ .95) and windows of tens of calls
    the normal tail is orders of magnitude too thin, and a healthy day would page."""
    if p <= 0.0 or p >= 1.0:     # X is always 0 (or always n)
        x = 0 if p <= 0.0 else n
        return float(x <= k) if lower else float(x >= k)
    if (lower and k < 0) or (not lower and k > n):
        return 0.0
    k = min(k, n) if lower else max(k, 0)
    mode = (n + 1) * p
    if (lower and k >= mode) or (not lower and k <= mode):
        # a tail holding the mode is near 1; its complement is a far tail, summed as below
        return max(0.0, 1.0 - binomial_tail(k + 1 if lower else k - 1, n, p, not lower))
    # From the term at k outwards (towards 0 or n), each from the last by the ratio of neighbouring
    # terms, until they no longer count: a few dozen terms for a drop, not up to n of them.
    odds = p / (1 - p)
    log_term = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                + k * math.log(p) + (n - k) * math.log1p(-p))
    term, total, i = 1.0, 1.0, k        # relative to the term at k, scaled back at the end
    while (i > 0 if lower else i < n):
        term *= i / ((n - i + 1) * odds) if lower else (n - i) * odds / (i + 1)
        i += -1 if lower else 1
        total += term
        if term < total * 1e-17:
            break
    return min(1.0, math.exp(log_term + math.log(total)))


def poisson_lower_tail(k: int, lam: float) -> float:
    """P(X ≤ k) for X ~ Poisson(lam): how likely so few seizures are when lam are expected."""
    if lam <= 0:
        return 1.0
    logs = [i * math.log(lam) - lam - math.lgamma(i + 1) for i in range(0, k + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * sum(math.exp(x - top) for x in logs))


def breaches(window: Figures, base: Figures | None, t: Thresholds, significant: bool = True) -> list[str]:
    """The incident kinds this window shows against the baseline (empty: healthy).

    significant=False checks the margins only (no min_seizures, no alpha): how a single minute
    is dated as part of an incident, once a significant window says there is one."""
    kinds = []
    n = window.seizures
    if base is not None and base.seizures == 0:
        base = None                     # no ratios to compare with
    if base is not None:
        expected = base.per_minute * window.minutes
        if (expected >= (t.min_seizures if significant else 1) and n <= t.vanish_ratio * expected
                and (not significant or poisson_lower_tail(n, expected) < t.alpha)):
            kinds.append("traffic_vanish")
    if n == 0 or (significant and n < t.min_seizures):
        return kinds

    def implausible(count: int, p: float, lower: bool) -> bool:
        return not significant or binomial_tail(count, n, p, lower) < t.alpha

    # here n > 0 and the baseline has seizures: the ratios (Figures.asr …) are defined, divided directly
    if base is not None:
        base_asr, base_ner = base.answered / base.seizures, base.effective / base.seizures
        if window.answered / n <= base_asr - t.asr_margin and implausible(window.answered, base_asr, lower=True):
            kinds.append("asr_drop")
        if window.effective / n <= base_ner - t.ner_margin and implausible(window.effective, base_ner, lower=True):
            kinds.append("ner_drop")
        if (window.pdd_avg_ms is not None and base.pdd_avg_ms is not None
                and window.pdd_avg_ms > t.pdd_factor * base.pdd_avg_ms
                and window.pdd_avg_ms - base.pdd_avg_ms >= t.pdd_min_rise_ms):
            kinds.append("pdd_rise")
    base_share = base.network / base.seizures if base is not None else 0.0
    if window.network / n > t.network_share and implausible(window.network, base_share, lower=False):
        kinds.append("network_causes")
    return kinds


def severity(kinds: list[str], window: Figures, base: Figures | None) -> str:
    collapsed = base is not None and base.asr and window.asr is not None and window.asr < base.asr / 2
    if "traffic_vanish" in kinds or collapsed or (window.network_share or 0) >= 0.5:
        return "critical"
    return "major"


def absorb(state: dict[str, Any], message: dict[str, Any], offset: int) -> list[str]:
    """Adds a partials message to a key's state; returns the minutes it changed. Offsets are kept
    per minute, so a minute is stored on its own (stream/detector_tables.py) and a replayed message
    changes none of the minutes it was applied to before."""
    minutes, offsets = state.setdefault("minutes", {}), state.setdefault("offsets", {})
    changed = []
    for minute, partial in message["minutes"].items():
        if offset > offsets.get(minute, -1):
            minutes[minute] = merge(minutes.get(minute) or empty(), partial)
            offsets[minute] = offset
            changed.append(minute)
    if changed:
        state["seen_ms"] = max(state.get("seen_ms", 0), message.get("newest_ms", 0))
    return changed


def evaluate(key: str, state: dict[str, Any], watermark_ms: int,
             baseline: Figures | None | Callable[[int], Figures | None], t: Thresholds) -> list[dict[str, Any]]:
    """Judges every minute closed since the last call, and the running minute; returns incident
    events (open/update/resolve). `baseline` is the key's baseline, or minute_ms → baseline."""
    base_at = baseline if callable(baseline) else (lambda _m: baseline)
    closed = watermark_ms // MINUTE_MS * MINUTE_MS - MINUTE_MS   # the newest whole minute
    first = max(state.get("judged", closed - MINUTE_MS) + MINUTE_MS, closed - (MAX_CATCH_UP - 1) * MINUTE_MS)
    minutes = state.setdefault("minutes", {})
    events = []
    for m in range(first, closed + 1, MINUTE_MS):
        event = _judge(key, state, m, _window(minutes, m, t), base_at(m), t, m + MINUTE_MS)
        if event:
            events.append(event)
    state["judged"] = max(closed, state.get("judged", closed))
    # The running minute can open an incident before it closes: a collapse on a busy interconnect
    # is significant within seconds, and waiting for the minute would cost up to a minute.
    running, elapsed = closed + MINUTE_MS, (watermark_ms - closed - MINUTE_MS) / MINUTE_MS
    if state.get("incident") is None:
        recent = ["traffic_vanish"] if recent_vanish(minutes, watermark_ms, base_at(running), t) else []
        if elapsed >= RUNNING_MIN_SHARE or recent:
            event = _judge(key, state, running, _window(minutes, running, t), base_at(running), t, watermark_ms,
                           max(elapsed, 1 / SLICES), recent)
            if event:
                events.append(event)
    for minute in [x for x in minutes if int(x) < closed - KEEP_MINUTES * MINUTE_MS]:
        del minutes[minute]
        state.get("offsets", {}).pop(minute, None)
    return events


def quick_share(minutes: dict[str, Any], before_ms: int, t: Thresholds) -> float | None:
    """The key's own share of quick calls, over its minutes before before_ms (None: under
    min_baseline_minutes of them). The baseline (ClickHouse minutes by seizure) has no durations,
    and the share is a property of the interconnect's call mix that a vanish does not change."""
    older = [p for m, p in minutes.items() if int(m) < before_ms and p["seizures"] and "quick" in p]
    if len(older) < t.min_baseline_minutes:
        return None
    return sum(sum(p["quick"]) for p in older) / sum(p["seizures"] for p in older)


def recent_vanish(minutes: dict[str, Any], watermark_ms: int, base: Figures | None, t: Thresholds) -> bool:
    """Traffic vanished in the last RECENT_SLICES × 10 s before the watermark, judged on quick calls.

    A trunk that stops taking calls keeps writing CDRs for minutes (calls in progress end), but
    its quick calls (under QUICK_MS: busy, fast failures, declines, short answers; ~20 % of calls)
    stop QUICK_MS after the onset. Expected quick calls = baseline seizures × the key's quick
    share; a vanish needs quick ≤ vanish_ratio × expected (at least min_seizures expected, Poisson
    tail below alpha) and the slices' seizures to have fallen by at least half the quick calls
    missing: an ASR rise also thins quick calls (answered calls are long), but the longer calls
    replace them and the total stays."""
    if base is None or not base.seizures:
        return False
    end = watermark_ms // TENTH_MS * TENTH_MS
    slices = range(end - RECENT_SLICES * TENTH_MS, end, TENTH_MS)
    share = quick_share(minutes, slices[0] // MINUTE_MS * MINUTE_MS - t.window_minutes * MINUTE_MS, t)
    if share is None:
        return False
    parts = [(minutes.get(str(s // MINUTE_MS * MINUTE_MS)) or empty(), s % MINUTE_MS // TENTH_MS) for s in slices]
    quick = sum((p.get("quick") or [0] * SLICES)[i] for p, i in parts)
    total = sum((p.get("tens") or [0] * SLICES)[i] for p, i in parts)
    expected_total = base.per_minute * len(slices) / SLICES
    expected_quick = share * expected_total
    return (expected_quick >= t.min_seizures and quick <= t.vanish_ratio * expected_quick
            and total <= expected_total - (expected_quick - quick) / 2
            and poisson_lower_tail(quick, expected_quick) < t.alpha)


def _window(minutes: dict[str, Any], m: int, t: Thresholds) -> list[dict[str, Any]]:
    first = m - (t.window_minutes - 1) * MINUTE_MS
    return [minutes.get(str(x)) or empty() for x in range(first, m + MINUTE_MS, MINUTE_MS)]


def _judge(key: str, state: dict[str, Any], m: int, window_partials: list[dict[str, Any]], base: Figures | None,
           t: Thresholds, now_ms: int, elapsed: float = 1.0, also: Iterable[str] = ()) -> dict[str, Any] | None:
    """Judges the window ending with minute m, of which `elapsed` (a share) has passed; `also`:
    kinds found otherwise (the recent quick-call vanish)."""
    this_minute = window_partials[-1]
    lengths = [1.0] * (len(window_partials) - 1) + [elapsed]
    window = Figures.of(window_partials, sum(lengths))
    minute_alone = breaches(Figures.of([this_minute], elapsed), base, t)
    kinds = sorted(set(breaches(window, base, t)) | set(minute_alone) | set(also))
    incident = state.get("incident")
    # minutes past the margins (of the kinds this incident shows) on their own date the incident;
    # the window only says it is going on
    dating_kinds = set(kinds) | set(incident["kinds"] if incident else ())
    past_margin = [bool(dating_kinds & set(breaches(Figures.of([p], length), base, t, significant=False)))
                   for p, length in zip(window_partials, lengths)]
    first = m - (t.window_minutes - 1) * MINUTE_MS
    if kinds:
        if incident is None:
            interconnect, direction = key.split("|")
            # the run of past-margin minutes that ends at the window's last such minute
            last = max((i for i, bad in enumerate(past_margin) if bad), default=len(past_margin) - 1)
            run_start = last
            while run_start > 0 and past_margin[run_start - 1]:
                run_start -= 1
            start = first + run_start * MINUTE_MS
            incident = state["incident"] = {
                "id": str(uuid.uuid5(INCIDENT_NAMESPACE, f"{key}|{start}")), "interconnect": interconnect,
                "direction": direction, "status": "open", "kinds": [], "severity": "major",
                "start_ms": start, "end_ms": None, "last_breach_ms": m, "version": 0, "lost_calls": 0.0,
                "bad_minutes": [first + i * MINUTE_MS for i in range(run_start, len(past_margin)) if past_margin[i]],
                "baseline": base.summary() if base else None, "worst": window.summary(),
                "causes": {}, "sip": {}, "samples": [], "lost_by_minute": {}, "counted_through_ms": start - MINUTE_MS}
            for minute_ms, partial in zip(range(first, m + MINUTE_MS, MINUTE_MS), window_partials):
                if minute_ms >= start:
                    _count(incident, minute_ms, partial, base)
            kind = "open"
        else:
            _count(incident, m, this_minute, base)
            kind = "update"
        incident["kinds"] = sorted(set(incident["kinds"]) | set(kinds))
        if severity(kinds, window, base) == "critical":
            incident["severity"] = "critical"
        incident["last_breach_ms"] = m
        if window.asr is not None and (incident["worst"]["asr"] is None or window.asr < incident["worst"]["asr"]):
            incident["worst"] = window.summary()
    elif incident is not None:
        _count(incident, m, this_minute, base)
        kind = "update"
    else:
        return None
    if kind != "open" and past_margin[-1]:
        incident["bad_minutes"].append(m)
    # the last bad minute is the last past-margin minute inside a significant window
    last_bad = max((b for b in incident["bad_minutes"] if b <= incident["last_breach_ms"]),
                   default=incident["start_ms"])
    if not kinds and m - incident["last_breach_ms"] >= t.quiet_minutes * MINUTE_MS:
        incident["status"], incident["end_ms"] = "resolved", last_bad + MINUTE_MS
        kind = "resolve"
        state["incident"] = None
    incident["current"] = window.summary()
    incident["lost_calls"] = round(sum(v for k, v in incident["lost_by_minute"].items() if int(k) <= last_bad), 1)
    incident["version"] += 1
    incident["updated_ms"] = now_ms
    # the newest call end of this key absorbed when deciding: with several partials partitions
    # read unevenly it can be past now_ms + lateness, and the decision had seen that far
    incident["seen_ms"] = state.get("seen_ms")
    return {"event": kind, "incident": dict(incident)}


def _count(incident: dict[str, Any], minute_ms: int, partial: dict[str, Any], base: Figures | None) -> None:
    """A minute's lost calls (recomputed: the running minute is seen again once it closes) and its
    evidence (once per minute)."""
    if base is not None and base.seizures:
        base_asr = base.answered / base.seizures
        incident["lost_by_minute"][str(minute_ms)] = max(0.0, base_asr * base.per_minute - partial["answered"])
    if minute_ms <= incident["counted_through_ms"]:
        return
    incident["counted_through_ms"] = minute_ms
    for counter in ("causes", "sip"):
        for code, n in partial[counter].items():
            incident[counter][code] = incident[counter].get(code, 0) + n
    incident["samples"] = (incident["samples"] + partial["samples"])[:SAMPLES_KEPT]
