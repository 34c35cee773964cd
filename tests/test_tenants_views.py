"""Every tenant view against figures computed independently from the generated calls' truth."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timezone

import pytest

from cdrflow.schemas.erlang import channels_needed, erlang_b
from cdrflow.tenants.views import save_analysis_query

from support.tenant_traffic import (
    FROM_MS,
    HOUR,
    TENANTS,
    TO_MS,
    Call,
    ask,
    expected_cost,
    generate,
    store,
)


@pytest.fixture(scope="module")
def calls() -> list[Call]:
    return generate(3000, days=3)


@pytest.fixture
def stored(clickhouse, calls, monkeypatch):
    settings, client = clickhouse
    settings, cdrs = store(settings, client, calls)
    return settings, client, cdrs


def in_period(calls, tenant="acme"):
    return [c for c in calls if c.tenant == tenant and FROM_MS <= c.start_ms < TO_MS]


def test_enrichment_resolves_tenant_class_extension_direction_cost(stored, calls):
    _, _, cdrs = stored
    for call, cdr in zip(calls, cdrs):
        assert (cdr["tenant"], cdr["call_class"]) == (call.tenant, call.call_class), call
        assert cdr["extension"] == call.extension, call
        assert cdr.get("call_direction") == call.direction, call
        cost = expected_cost(call)
        assert cdr.get("cost") == (None if cost is None else pytest.approx(cost, abs=1e-6)), call


def test_summary(stored, calls):
    for tenant in TENANTS:
        mine = in_period(calls, tenant)
        [row] = ask(stored, "summary", tenant)
        classes = Counter(c.call_class for c in mine)
        answered = [c for c in mine if c.answer_ms is not None and c.call_class != "missed"]
        assert row["calls"] == len(mine)
        assert {k: row[k] for k in classes} == dict(classes)
        assert row["answered"] == len(answered)
        assert row["talk_s"] == pytest.approx(sum(c.talk_ms for c in mine) / 1000)
        assert row["avg_talk_s"] == pytest.approx(sum(c.talk_ms for c in answered) / 1000 / len(answered))
        waits = [c.wait_ms for c in mine if c.call_class == "incoming"]
        assert row["avg_wait_answered_s"] == pytest.approx(sum(waits) / len(waits) / 1000)
        waits = [c.wait_ms for c in mine if c.call_class == "missed"]
        assert row["avg_wait_missed_s"] == pytest.approx(sum(waits) / len(waits) / 1000)
        assert row["cost"] == pytest.approx(sum(expected_cost(c) or 0 for c in mine))
        assert row["unrated"] == 0


def test_directions_and_destinations(stored, calls):
    for tenant in TENANTS:
        placed = [c for c in in_period(calls, tenant) if c.direction]
        rows = {r["direction"]: r for r in ask(stored, "directions", tenant)}
        expect = defaultdict(lambda: [0, 0.0, 0.0])
        for c in placed:
            e = expect[c.direction]
            e[0] += 1
            e[1] += c.talk_ms / 1000
            e[2] += expected_cost(c)
        assert set(rows) == set(expect)
        for d, (n, talk, cost) in expect.items():
            assert (rows[d]["calls"], rows[d]["talk_s"], rows[d]["cost"]) == \
                   (n, pytest.approx(talk), pytest.approx(cost))
    # acme's configured destinations, the costliest first
    dest = ask(stored, "destinations", top=3)
    assert len(dest) == 3 and dest[0]["cost"] >= dest[1]["cost"] >= dest[2]["cost"]
    assert {r["destination"] for r in ask(stored, "destinations", top=50)} <= \
           {"US", "NYC", "UK", "UK mobile", "default"}
    assert "mobile" in {r["direction"] for r in ask(stored, "directions", "globex")}


def test_top_numbers_and_incoming_numbers(stored, calls):
    mine = [c for c in in_period(calls) if c.call_class != "internal"]
    per = Counter(c.remote for c in mine)
    top = ask(stored, "top_numbers", top=5)
    assert [(r["number"], r["calls"]) for r in top] == \
           sorted(per.items(), key=lambda kv: (-kv[1], _talk(mine, kv[0]) * -1, kv[0]))[:5]
    out = Counter(c.remote for c in mine if c.direction)
    assert all(r["calls_out"] == out[r["number"]] for r in top)

    inbound = [c for c in in_period(calls) if c.call_class in ("incoming", "missed")]
    rows = {r["number"]: r for r in ask(stored, "incoming_numbers")}
    assert set(rows) == {c.tenant_number for c in inbound}
    for number, row in rows.items():
        these = [c for c in inbound if c.tenant_number == number]
        assert row["calls"] == len(these)
        assert row["missed"] == sum(c.call_class == "missed" for c in these)
        assert row["callers"] == len({c.remote for c in these})


def _talk(calls, number):
    return sum(c.talk_ms for c in calls if c.remote == number) / 1000


def test_extensions(stored, calls):
    mine = [c for c in in_period(calls) if c.extension]
    rows = {r["extension"]: r for r in ask(stored, "extensions")}
    assert set(rows) == {c.extension for c in mine}
    for ext, row in rows.items():
        these = [c for c in mine if c.extension == ext]
        for cls in ("outgoing", "incoming", "missed", "internal"):
            assert row[cls] == sum(c.call_class == cls for c in these), (ext, cls)
        assert row["talk_s"] == pytest.approx(sum(c.talk_ms for c in these) / 1000)
        assert row["load"] == pytest.approx(sum(c.talk_ms for c in these) / (TO_MS - FROM_MS))


@pytest.mark.parametrize("unique_days,sales_cycle_days", [(1, 1), (0, 0)])
def test_call_types(stored, calls, unique_days, sales_cycle_days):
    rules = dict(unique_days=unique_days, target_min_s=60, sales_cycle_days=sales_cycle_days,
                 spam_calls_per_day=5, spam_max_talk_s=10)
    [row] = ask(stored, "call_types", **rules)
    inbound = sorted((c for c in calls if c.tenant == "acme" and c.call_class in ("incoming", "missed")),
                     key=lambda c: c.start_ms)

    def within(prev: list[int], start: int, days: int) -> bool:
        return bool(prev) and (days == 0 or start - prev[-1] <= days * 86_400_000)

    expect = Counter()
    seen, seen_target = defaultdict(list), defaultdict(list)
    # the view knows the period's calls up to its end, so a day cut by `to` counts until then
    short_per_day = Counter((c.remote, (c.start_ms // 86_400_000)) for c in inbound
                            if c.talk_ms <= 10_000 and c.start_ms < TO_MS)
    for c in inbound:
        target = c.call_class == "incoming" and c.talk_ms >= 60_000
        if FROM_MS <= c.start_ms < TO_MS:
            expect["calls"] += 1
            expect["unique"] += not within(seen[c.remote], c.start_ms, unique_days)
            expect["target"] += target
            expect["unique_target"] += target and not within(seen_target[c.remote], c.start_ms, sales_cycle_days)
            expect["callback"] += c.remote == "+12125559999"
            expect["spam"] += c.talk_ms <= 10_000 and short_per_day[(c.remote, c.start_ms // 86_400_000)] >= 5
        seen[c.remote].append(c.start_ms)
        if target:
            seen_target[c.remote].append(c.start_ms)
    expect["repeat"] = expect["calls"] - expect["unique"]
    assert {k: row[k] for k in expect} == dict(expect)
    assert expect["spam"] > 0 and expect["repeat"] > 0 and expect["callback"] > 0


def test_missed_not_called_back(stored, calls):
    acme = [c for c in calls if c.tenant == "acme"]
    hours = 4
    expect = []
    for m in in_period(calls):
        if m.call_class != "missed":
            continue
        returned = any(c.remote == m.remote and c.call_class in ("outgoing", "incoming")
                       and m.start_ms < c.start_ms <= m.start_ms + hours * HOUR for c in acme)
        if not returned:
            expect.append((m.start_ms, m.remote))
    rows = ask(stored, "missed_not_called_back", callback_hours=hours)
    got = [(int(r["missed_at"].replace(tzinfo=timezone.utc).timestamp() * 1000), r["caller"]) for r in rows]
    assert sorted(got) == sorted(expect)
    assert 0 < len(expect) < sum(c.call_class == "missed" for c in in_period(calls))


def test_channel_load_and_erlang(stored, calls):
    bucket = 3600
    rows = ask(stored, "channel_load", bucket_s=bucket, channels=4, gos=0.01)
    spans = [(max(c.start_ms, FROM_MS), min(c.end_ms, TO_MS)) for c in calls
             if c.tenant == "acme" and c.call_class != "internal" and c.start_ms < TO_MS and c.end_ms > FROM_MS]
    assert len(rows) == (TO_MS - FROM_MS) // (bucket * 1000)
    for row in rows:
        b0 = int(row["bucket"].replace(tzinfo=timezone.utc).timestamp() * 1000)
        b1 = b0 + bucket * 1000
        instants = [b0] + [s for s, _ in spans if b0 <= s < b1]
        peak = max(sum(1 for s, e in spans if s <= t < e) for t in instants)
        erlangs = sum(max(0, min(e, b1) - max(s, b0)) for s, e in spans) / (bucket * 1000)
        assert row["peak_concurrent"] == peak
        assert row["erlangs"] == pytest.approx(erlangs)
        assert row["blocking"] == pytest.approx(erlang_b(4, erlangs))
        assert row["channels_needed"] == channels_needed(erlangs, 0.01)


def test_notebook_saved_filter_rerun(stored, calls):
    settings, client, _ = stored
    client.command(*save_analysis_query(settings, "acme", "london", "+44", ["outgoing"], "UK calls"))
    rows = ask(stored, "notebook", name="london")
    expect = [c for c in in_period(calls) if c.call_class == "outgoing" and
              (c.remote.startswith("+44") or c.tenant_number.startswith("+44"))]
    assert len(rows) == len(expect) > 0
    assert ask(stored, "notebook", name="no such analysis") == []
    assert ask(stored, "notebook", "globex", name="london") == []      # acme's analysis, not globex's


def test_erlang_b_published_values():
    assert erlang_b(10, 5) == pytest.approx(0.018385, abs=5e-5)
    assert round(erlang_b(10, 5), 4) == 0.0184
    assert erlang_b(1, 1) == pytest.approx(0.5) and erlang_b(2, 1) == pytest.approx(0.2)
    assert channels_needed(5, 0.01) == 11        # B(10, 5) = 0.0184 > 1 % ≥ B(11, 5) = 0.0083
    assert erlang_b(300, 280) < 1                 # the recursion does not overflow
