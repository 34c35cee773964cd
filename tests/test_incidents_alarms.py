"""NOC alarm rules and their lifecycle, on hand-computed cases (incidents/alarms.py)."""
from __future__ import annotations

from cdrflow.incidents.alarms import AlarmBook, Verdict, alarm_id, long_calls, premium_surges, utilisation
from cdrflow.infra.config import AlarmRules

M = 60_000
T = 1_795_003_200_000            # 2026-11-18 12:00 UTC
RULES = AlarmRules(utilisation_pct=80, utilisation_minutes=3, quiet_minutes=2, long_call_s=3600,
                   premium_prefixes=["882"], premium_window_minutes=10, premium_baseline_hours=1,
                   premium_factor=3, premium_min_calls=10)


def trunk(peaks: list[int], channels: int = 10, first: int = T) -> dict[int, tuple[int, int]]:
    return {first + i * M: (p, channels) for i, p in enumerate(peaks) if p}


def test_utilisation_opens_after_n_busy_minutes_and_resolves_after_quiet_ones():
    # minutes 0..7 of TG-A: 5, 8, 9, 10, 7, 3, 0, 0 of 10 channels (80 % = 8 calls)
    minutes = {"TG-A": trunk([5, 8, 9, 10, 7, 3, 0, 0])}
    book, events = AlarmBook(), []
    for k in range(1, 9):       # judge at the end of minutes 0..7
        at = T + k * M
        events += [(k, e) for e in book.judge("utilisation", utilisation(
            {t: {m: v for m, v in by.items() if m < at} for t, by in minutes.items()}, at, RULES), at)]
    # busy minutes 1, 2, 3: open when minute 3 ends (k = 4), since minute 1, worst 100 % (grade 10)
    (k_open, opened), (k_res, resolved) = events
    assert (k_open, opened["status"], opened["since_ms"], opened["version"]) == (4, "open", T + M, 1)
    assert opened["detail"]["worst_utilisation"] == 1.0 and opened["detail"]["minutes"] == 3
    assert opened["id"] == alarm_id("utilisation", "TG-A", T + M)
    # minute 4 (70 %) is below, but quiet needs 2 minutes: minutes 4 and 5 → resolved when 5 ends
    assert (k_res, resolved["status"], resolved["version"], resolved["end_ms"]) == (6, "resolved", 2, T + 6 * M)


def test_utilisation_ignores_trunks_without_channels_and_short_peaks():
    minutes = {"TG-B": trunk([10, 10, 0, 10, 10]), "TG-C": trunk([9, 9, 9], channels=0)}
    verdict = utilisation(minutes, T + 5 * M, RULES)
    assert verdict.breaches == {} and verdict.pending == {"TG-B"}


def span(call: str, start: int, end: int, open_: int = 0) -> dict:
    return {"source": "sbc", "call_id": call, "start_ms": start, "end_ms": end, "open": open_,
            "egress_trunk": "TG-A"}


def test_long_call_opens_while_up_and_resolves_when_it_ends():
    book = AlarmBook()
    running = span("a", T, T + 12 * 3600_000, open_=1)          # START without its STOP yet
    assert book.judge("long_call", long_calls([running], T + 59 * M, T + 60 * M - 1, RULES), T + 60 * M - 1) == []
    opened, = book.judge("long_call", long_calls([running], T + 59 * M, T + 60 * M, RULES), T + 60 * M)
    assert (opened["status"], opened["since_ms"], opened["subject"]) == ("open", T + 60 * M, "sbc/a")
    assert opened["detail"]["duration_s"] == 3600 and not opened["detail"]["ended"]
    # two hours up: grade 2, an update
    updated, = book.judge("long_call", long_calls([running], T + 119 * M, T + 120 * M, RULES), T + 120 * M)
    assert (updated["status"], updated["version"]) == ("update", 2)
    # its STOP arrives (ended at 2 h 5½ min): the judgement it ended before shows it ended, the next
    # resolves it
    stopped = span("a", T, T + 125 * M + 30_000)
    assert book.judge("long_call", long_calls([stopped], T + 125 * M, T + 126 * M, RULES), T + 126 * M) == []
    resolved, = book.judge("long_call", long_calls([stopped], T + 126 * M, T + 127 * M, RULES), T + 127 * M)
    assert (resolved["status"], resolved["version"], resolved["id"]) == ("resolved", 3, opened["id"])


def test_long_call_of_an_end_only_format_opens_and_resolves_and_stale_starts_are_no_calls():
    book = AlarmBook()
    ended = span("b", T, T + 90 * M + 30_000)           # seen only when its end record arrives
    stale = span("c", T - 13 * 3600_000, T - 3600_000, open_=1)     # START closed as stale an hour ago
    verdict = long_calls([ended, stale], T + 90 * M, T + 91 * M, RULES)
    assert set(verdict.breaches) == {"sbc/b"}
    opened, = book.judge("long_call", verdict, T + 91 * M)
    assert opened["detail"]["ended"] and opened["detail"]["duration_s"] == 5430
    resolved, = book.judge("long_call", long_calls([ended], T + 91 * M, T + 92 * M, RULES), T + 92 * M)
    assert resolved["status"] == "resolved"


def test_premium_surge_against_baseline():
    # baseline hour before the window: 30 calls → 5 expected per 10 minutes; factor 3 → 15 needed
    baseline = {T - 70 * M + i * 2 * M: 1 for i in range(30)}
    quiet = {**baseline, **{T - 10 * M + i * M: 1 for i in range(10)}}           # 10 in the window
    surge = {**baseline, **{T - 10 * M + i * M: 2 for i in range(8)}}            # 16 in the window
    assert premium_surges({"882": quiet}, T, RULES).breaches == {}
    breach = premium_surges({"882": surge}, T, RULES).breaches["882"]
    assert (breach.since_ms, breach.detail["calls"], breach.detail["expected"]) == (T - 10 * M, 16, 5.0)
    # without history, min_calls decides: 9 calls are no surge, 10 are
    assert premium_surges({"882": {T - M: 9}}, T, RULES).breaches == {}
    assert "882" in premium_surges({"882": {T - M: 10}}, T, RULES).breaches


def test_book_goes_on_with_stored_alarms_and_never_reopens_a_reported_id():
    opened = AlarmBook().judge("premium_surge", premium_surges({"882": {T - M: 10}}, T, RULES), T)[0]
    # a restarted agent: the alarm is open → an unchanged breach is no event, its end resolves it
    book = AlarmBook([opened], {opened["id"]})
    assert book.judge("premium_surge", premium_surges({"882": {T - M: 10}}, T + M, RULES), T + M) == []
    resolved, = book.judge("premium_surge", Verdict(), T + 11 * M)
    assert (resolved["id"], resolved["version"], resolved["status"]) == (opened["id"], 2, "resolved")
    # judged again after a restart, the same breach at the same moment is known: no new alarm
    again = AlarmBook([], {opened["id"]})
    assert again.judge("premium_surge", premium_surges({"882": {T - M: 10}}, T, RULES), T) == []


def test_stored_alarms_come_back_as_the_book_a_restarted_agent_goes_on_with(clickhouse):
    from cdrflow.incidents.alarm_store import load_book, store_alarms

    settings, client = clickhouse
    book = AlarmBook()
    surge = book.judge("premium_surge", premium_surges({"882": {T - M: 10}}, T, RULES), T)
    running = span("a", T - 3600_000, T + 11 * 3600_000, open_=1)      # a START, up an hour at T
    long_ = book.judge("long_call", long_calls([running], T - M, T, RULES), T)
    resolved = book.judge("premium_surge", Verdict(), T + 5 * M)
    store_alarms(client, settings, surge + long_ + resolved)
    restored, newest = load_book(client, settings)
    assert newest == T + 5 * M
    assert list(restored.open) == [("long_call", "sbc/a")]
    assert restored.known == {surge[0]["id"], long_[0]["id"]}
    # the long call goes on: no second open, and its next version follows the stored one
    later = long_calls([running], T + 59 * M, T + 60 * M, RULES)
    updated, = restored.judge("long_call", later, T + 60 * M)
    assert (updated["id"], updated["version"], updated["status"]) == (long_[0]["id"], 2, "update")
