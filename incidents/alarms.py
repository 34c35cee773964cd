"""NOC alarms besides incidents: what breaches a rule, and the lifecycle every alarm shares.

Three rules, each judged at a minute boundary `at` of event time over what ClickHouse holds:
- utilisation: a trunk group's peak simultaneous calls in a minute at or above utilisation_pct of
  its channels, for utilisation_minutes minutes in a row (congestion risk); it resolves after
  quiet_minutes minutes below;
- long_call: a call up at least long_call_s (a stuck channel, or fraud); it resolves when the
  call ends. A format that writes end records only shows the call when it ends: that alarm opens
  and resolves at once, so the NOC still sees it;
- premium_surge: calls to a watched premium prefix over the last premium_window_minutes at least
  premium_min_calls and premium_factor times the prefix's rate over the baseline hours before
  (the IRSF pattern); it resolves once the window is no surge.

The lifecycle is the incidents': an alarm opens (version 1), is updated when it gets worse (its
grade rises: utilisation by 10 %, a long call by every further long_call_s, a surge by doubling),
and resolves. Its id is a uuid5 of kind, subject and the moment it began, so judging the same
minutes again after a restart finds the same alarm instead of a new one.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from cdrflow.infra.config import AlarmRules

MINUTE_MS = 60_000
ALARM_NAMESPACE = uuid.UUID("5b0f4a52-1c3e-4d59-9a0b-7e2f3c61d8a4")
KINDS = ("utilisation", "long_call", "premium_surge")


def alarm_id(kind: str, subject: str, since_ms: int) -> str:
    return str(uuid.uuid5(ALARM_NAMESPACE, f"{kind}|{subject}|{since_ms}"))


@dataclass(frozen=True)
class Breach:
    """A rule broken for one subject at one judgement."""

    since_ms: int             # when the breach began
    grade: int                # how bad: an open alarm is updated when this rises
    detail: dict[str, Any]


@dataclass
class Verdict:
    """One rule's findings at `at`: breaches by subject, and subjects not breaching yet not clear
    either (an open alarm of theirs stays open). Every other open alarm of the rule resolves."""

    breaches: dict[str, Breach] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)


def utilisation(minutes: dict[str, dict[int, tuple[int, int]]], at_ms: int, rules: AlarmRules) -> Verdict:
    """minutes: trunk → {minute start ms: (peak simultaneous calls, channels)}; a minute absent had
    no calls. Judges the whole minutes before at_ms."""
    verdict = Verdict()
    last = at_ms - MINUTE_MS
    for trunk, by_minute in minutes.items():
        channels = max((c for _, c in by_minute.values()), default=0)
        if channels <= 0:
            continue
        share = {m: peak / channels for m, (peak, _) in by_minute.items()}    # absent minutes: 0
        busy = {m for m, s in share.items() if s * 100 >= rules.utilisation_pct}
        if all(last - i * MINUTE_MS in busy for i in range(rules.utilisation_minutes)):
            since = last
            while since - MINUTE_MS in busy:
                since -= MINUTE_MS
            run = range(since, at_ms, MINUTE_MS)
            worst = max(share[m] for m in run)
            verdict.breaches[trunk] = Breach(since, int(worst * 10), {
                "trunk": trunk, "channels": channels, "peak": by_minute[last][0], "utilisation": share[last],
                "worst_utilisation": worst, "minutes": len(run), "threshold_pct": rules.utilisation_pct})
        elif any(last - i * MINUTE_MS in busy for i in range(rules.quiet_minutes)):
            verdict.pending.add(trunk)
    return verdict


def long_calls(spans: list[dict[str, Any]], previous_ms: int, at_ms: int, rules: AlarmRules) -> Verdict:
    """spans: calls (call_spans rows: source, call_id, start_ms, end_ms, open, trunks, …). A call is
    long at at_ms while up at least long_call_s; one that ended since previous_ms having been up that
    long is a breach too (seen only at its end), resolved at the next judgement. A START closed as
    stale is no call up any more."""
    verdict = Verdict()
    threshold_ms = rules.long_call_s * 1000
    for span in spans:
        subject = f'{span["source"]}/{span["call_id"]}'
        up_to = min(span["end_ms"], at_ms)
        crossed = span["start_ms"] + threshold_ms
        if crossed <= up_to and span["end_ms"] > previous_ms and not (span["end_ms"] <= at_ms and span["open"]):
            duration_s = (up_to - span["start_ms"]) // 1000
            verdict.breaches[subject] = Breach(crossed, duration_s // rules.long_call_s, {
                "source": span["source"], "call_id": span["call_id"], "start_ms": span["start_ms"],
                "duration_s": duration_s, "ended": span["end_ms"] <= at_ms,
                **{k: span[k] for k in ("ingress_trunk", "egress_trunk", "interconnect", "called_e164") if k in span}})
    return verdict


def premium_surges(counts: dict[str, dict[int, int]], at_ms: int, rules: AlarmRules) -> Verdict:
    """counts: prefix → {minute start ms: calls started}. The window is the premium_window_minutes
    before at_ms; the baseline the premium_baseline_hours before the window."""
    verdict = Verdict()
    window_ms = rules.premium_window_minutes * MINUTE_MS
    baseline_ms = rules.premium_baseline_hours * 60 * MINUTE_MS
    for prefix, by_minute in counts.items():
        window = sum(n for m, n in by_minute.items() if at_ms - window_ms <= m < at_ms)
        before = sum(n for m, n in by_minute.items() if at_ms - window_ms - baseline_ms <= m < at_ms - window_ms)
        expected = before * window_ms / baseline_ms
        if window >= rules.premium_min_calls and window >= rules.premium_factor * expected:
            verdict.breaches[prefix] = Breach(at_ms - window_ms, int(math.log2(window / rules.premium_min_calls)), {
                "prefix": prefix, "calls": window, "expected": round(expected, 2),
                "window_minutes": rules.premium_window_minutes, "baseline_hours": rules.premium_baseline_hours})
    return verdict


class AlarmBook:
    """Open alarms by (kind, subject) and the ids ever reported; turns verdicts into alarm events."""

    def __init__(self, open_alarms: list[dict[str, Any]] = (), known_ids: set[str] = frozenset()) -> None:
        self.open = {(a["kind"], a["subject"]): dict(a) for a in open_alarms}
        self.known = set(known_ids)

    def judge(self, kind: str, verdict: Verdict, at_ms: int) -> list[dict[str, Any]]:
        """Events (alarm versions) of one rule's verdict at at_ms: open, update or resolved."""
        events = []
        for subject, breach in sorted(verdict.breaches.items()):
            alarm = self.open.get((kind, subject))
            if alarm is None:
                new_id = alarm_id(kind, subject, breach.since_ms)
                if new_id in self.known:
                    continue        # reported before a restart, and resolved since
                alarm = {"id": new_id, "version": 0, "kind": kind, "subject": subject, "since_ms": breach.since_ms,
                         "end_ms": None, "grade": breach.grade}
                self.open[(kind, subject)] = alarm
                self.known.add(new_id)
                events.append(self._version(alarm, "open", at_ms, breach.detail))
            elif breach.grade > alarm["grade"]:
                alarm["grade"] = breach.grade
                events.append(self._version(alarm, "update", at_ms, breach.detail))
            else:
                alarm["detail"] = breach.detail     # the figures of the next version
        for key in sorted(k for k in self.open if k[0] == kind and k[1] not in verdict.breaches
                          and k[1] not in verdict.pending):
            alarm = self.open.pop(key)
            alarm["end_ms"] = at_ms
            events.append(self._version(alarm, "resolved", at_ms, alarm.get("detail", {})))
        return events

    @staticmethod
    def _version(alarm: dict[str, Any], status: str, at_ms: int, detail: dict[str, Any]) -> dict[str, Any]:
        alarm.update(version=alarm["version"] + 1, status=status, updated_ms=at_ms, detail=detail)
        return {k: alarm[k] for k in ("id", "version", "status", "kind", "subject", "since_ms", "updated_ms",
                                      "end_ms", "grade", "detail")}
