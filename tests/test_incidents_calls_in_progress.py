"""Calls in progress, stale STARTs and trunk load (clickhouse/migrations/0013_noc.sql, call_spans as
0014 has it, trunk_load as 0015 has it) on embedded ClickHouse, against hand counts; Erlang B
against schemas/erlang.py."""
from __future__ import annotations

import pytest
from cdrflow.incidents.alarm_store import store_noc_config
from cdrflow.schemas.cdr import CDR, make_cdr_id
from cdrflow.schemas.erlang import erlang_b

from support.quality import store

M = 60_000
T0 = 1_794_999_600_000          # 2026-11-18 11:00 UTC


def record(call: str, kind: str, start_ms: int, end_ms: int | None = None, answered: bool = True,
           trunk: str = "TG-VZ-01") -> dict:
    """One SBC record of a call: a START (answered, written at answer), a STOP or an ATTEMPT."""
    answer_ms = start_ms + 1_000 if answered else None
    end_ms = answer_ms if kind == "start" else end_ms
    native = f"{call}/{kind}/{start_ms}"
    return CDR(cdr_id=make_cdr_id("sbc-1", native), source="sbc-1", source_format="ribbon_sbc", native_id=native,
               call_id=call, record_kind=kind, start_ms=start_ms, answer_ms=answer_ms, end_ms=end_ms,
               duration_ms=end_ms - start_ms, billable_ms=end_ms - answer_ms if answer_ms else 0,
               q850_cause=16 if answered else 34, calling_number="3035550100", called_number="2125550199",
               ingress_trunk="CUST-X", egress_trunk=trunk, source_file="test", source_offset=0).model_dump()


def in_progress(client, at_ms: int, trunk: str = "TG-VZ-01") -> tuple[int, int]:
    rows = client.query("SELECT calls, stale FROM cdrflow.calls_in_progress(at = fromUnixTimestamp64Milli({at:Int64})) "
                        "WHERE dimension = 'trunk' AND name = {trunk:String}",
                        parameters={"at": at_ms, "trunk": trunk}).result_rows
    return tuple(rows[0]) if rows else (0, 0)


def test_starts_count_until_their_stop_and_stale_ones_are_closed(clickhouse):
    settings, client = clickhouse
    store_noc_config(client, settings.model_copy(update={"longest_call_s": 3600}), T0)
    store(clickhouse, [
        record("a", "start", T0),                                  # answered at 0:01, STOP at 10:00
        record("a", "stop", T0, T0 + 10 * M),
        record("b", "attempt", T0 + M, T0 + M + 5_000, answered=False),   # failed route attempt …
        record("b", "start", T0 + 2 * M),                          # … then answered: STOP not written yet
        record("c", "start", T0 - 50 * M),                         # STOP lost: stale at 10:00
        record("d", "stop", T0 + 3 * M, T0 + 4 * M),               # an end-only format's call
    ])
    # by hand: at 0:30 a and c; at 3:30 a, b, c, d; at 9:59 a, b, c; at 10:00 b (a ended, c stale);
    # at 61:00 b is stale too
    assert in_progress(client, T0 + 30_000) == (2, 0)
    assert in_progress(client, T0 + 3 * M + 30_000) == (4, 0)
    assert in_progress(client, T0 + 10 * M - 1) == (3, 0)
    assert in_progress(client, T0 + 10 * M) == (1, 1)
    assert in_progress(client, T0 + 62 * M) == (0, 2)
    series = client.query("SELECT toUnixTimestamp64Milli(at), calls FROM cdrflow.calls_in_progress_series("
                          "from = fromUnixTimestamp64Milli({f:Int64}), to = fromUnixTimestamp64Milli({t:Int64}), "
                          "step_s = 120) WHERE dimension = 'trunk' AND name = 'TG-VZ-01' ORDER BY 1",
                          parameters={"f": T0, "t": T0 + 12 * M}).result_rows
    series = [list(r) for r in series]
    assert series == [[T0, 2], [T0 + 2 * M, 3], [T0 + 4 * M, 3], [T0 + 6 * M, 3], [T0 + 8 * M, 3],
                      [T0 + 10 * M, 1], [T0 + 12 * M, 1]]


def test_trunk_load_utilisation_and_erlang_b(clickhouse):
    settings, client = clickhouse
    store_noc_config(client, settings.model_copy(update={"trunk_channels": {"TG-VZ-01": 4}}), T0)
    # minute 0: calls 0:00-0:30, 0:15-1:15, 0:20-0:50 → peak 3 (0:20-0:30); 30 + 45 + 30 s = 1.75 Erlang
    # minute 1: the second call's last 15 s → peak 1, 0.25 Erlang
    store(clickhouse, [record("a", "stop", T0, T0 + 30_000), record("b", "stop", T0 + 15_000, T0 + 75_000),
                       record("c", "stop", T0 + 20_000, T0 + 50_000),
                       record("z", "stop", T0, T0 + 90_000, trunk="TG-ATT-01")])     # no channels configured
    rows = client.query("SELECT trunk, toUnixTimestamp64Milli(bucket), peak_concurrent, erlangs, channels, "
                        "utilisation, blocking FROM cdrflow.trunk_load(from = fromUnixTimestamp64Milli({f:Int64}), "
                        "to = fromUnixTimestamp64Milli({t:Int64}), bucket_s = 60) "
                        "WHERE trunk LIKE 'TG-%' ORDER BY 1, 2",
                        parameters={"f": T0, "t": T0 + 2 * M}).result_rows
    rows = [list(r) for r in rows]
    (att0, att1, vz0, vz1) = rows
    assert att0[0] == "TG-ATT-01" and att0[4] == 0 and att0[5] is None and att0[6] is None
    assert vz0[:5] == ["TG-VZ-01", T0, 3, pytest.approx(1.75), 4] and vz0[5] == pytest.approx(0.75)
    assert vz1[:5] == ["TG-VZ-01", T0 + M, 1, pytest.approx(0.25), 4] and vz1[5] == pytest.approx(0.25)
    # the one Erlang B: the view's recursion gives schemas/erlang.py's value; by hand
    # B(4, 1.75) = (1.75⁴/4!) / (1 + 1.75 + 1.75²/2 + 1.75³/6 + 1.75⁴/24) = 0.39079 / 5.56527 = 0.07022
    assert vz0[6] == pytest.approx(erlang_b(4, 1.75)) == pytest.approx(0.07022, abs=1e-5)


def test_trunk_load_ends_before_starts_at_the_same_instant_and_counts_calls_carried_in(clickhouse):
    """Peaks by hand. Minute 0: a 0:10-0:30, b 0:30-0:40 (starts as a ends), c 0:20-0:30 (ends as
    b starts), d 0:25-1:30 → up at once: a, c, d (0:25-0:30), then b and d; peak 3 (4 were b
    counted before a and c end).
    Minute 1: d carried in from minute 0, e 1:00-1:05 (starts at the minute's first instant),
    f 1:10-1:20 → peak 2 (d and e, then d and f)."""
    settings, client = clickhouse
    store_noc_config(client, settings.model_copy(update={"trunk_channels": {"TG-VZ-01": 10}}), T0)
    s = 1_000
    store(clickhouse, [record("a", "stop", T0 + 10 * s, T0 + 30 * s), record("b", "stop", T0 + 30 * s, T0 + 40 * s),
                       record("c", "stop", T0 + 20 * s, T0 + 30 * s), record("d", "stop", T0 + 25 * s, T0 + 90 * s),
                       record("e", "stop", T0 + M, T0 + M + 5 * s),
                       record("f", "stop", T0 + M + 10 * s, T0 + M + 20 * s)])
    rows = client.query("SELECT toUnixTimestamp64Milli(bucket), peak_concurrent FROM cdrflow.trunk_load("
                        "from = fromUnixTimestamp64Milli({f:Int64}), to = fromUnixTimestamp64Milli({t:Int64}), "
                        "bucket_s = 60) WHERE trunk = 'TG-VZ-01' ORDER BY 1",
                        parameters={"f": T0, "t": T0 + 2 * M}).result_rows
    assert [list(r) for r in rows] == [[T0, 3], [T0 + M, 2]]
