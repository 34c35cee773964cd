"""Interconnect quality aggregates (ITU-T E.411 / E.425) against hand-computed cases.

CDRs go through the real enrichment and writer into embedded ClickHouse; the materialised view
fills interconnect_minute and the views compute the ratios.
"""
from __future__ import annotations

import time

import pytest

from support.quality import MINUTE, cdr, store


def minute_of_calls(m: int) -> list[dict]:
    """verizon/out in minute m: 8 seizures plus two records that are not seizures."""
    return [
        cdr(1, m + 1_000, answered_s=30, q850=16, sip=200, pdd=1200),   # answered
        cdr(2, m + 2_000, answered_s=5, q850=16, pdd=800),              # answered, short (< 10 s)
        cdr(3, m + 3_000, q850=17, sip=486, pdd=1500),                  # user busy      → effective
        cdr(4, m + 4_000, q850=19, sip=480, pdd=2000),                  # no answer      → effective
        cdr(5, m + 5_000, q850=34, sip=503),                            # network
        cdr(6, m + 6_000, q850=38, sip=502, pdd=300),                   # network
        cdr(7, m + 7_000, q850=1, sip=404, pdd=150),                    # number
        cdr(8, m + 8_000, q850=16, sip=487, pdd=900),                   # caller abandoned
        cdr(9, m + 9_000, answered_s=10, q850=16, kind="start"),        # interim: not a seizure
        cdr(10, m + 10_000, q850=34, egress="TG-UNKNOWN"),              # no interconnect
    ]


def quality(clickhouse, start_ms: int, end_ms: int, bucket_s: int = 0) -> dict:
    settings, client = clickhouse
    result = client.query(
        f"SELECT * FROM {settings.clickhouse_database}.interconnect_quality("
        "from = {a:DateTime}, to = {b:DateTime}, bucket_s = {s:UInt32}) ORDER BY interconnect, direction, bucket",
        parameters={"a": start_ms // 1000, "b": end_ms // 1000, "s": bucket_s})
    return [dict(zip(result.column_names, row)) for row in result.result_rows]


def test_one_minute_equals_hand_computed_figures(clickhouse):
    assert store(clickhouse, minute_of_calls(MINUTE)) == 10
    [row] = quality(clickhouse, MINUTE, MINUTE + 60_000)
    # seizures: calls 1-8 (9 is a start record, 10 has no interconnect); answered: 1, 2
    assert (row["interconnect"], row["direction"]) == ("verizon", "out")
    assert (row["seizures"], row["answered"], row["effective"], row["network_failures"]) == (8, 2, 4, 2)
    assert row["asr"] == pytest.approx(2 / 8)
    assert row["ner"] == pytest.approx(4 / 8)            # answered + busy + no answer
    assert row["network_share"] == pytest.approx(2 / 8)
    assert row["short_calls"] == 1
    assert row["acd_s"] == pytest.approx((30 + 5) / 2)
    # PDD of the 7 calls that report one: 1200 800 1500 2000 300 150 900
    assert row["pdd_calls"] == 7
    assert row["pdd_avg_ms"] == pytest.approx(6850 / 7)
    assert row["pdd_p95_ms"] == 2100                    # rank ceil(0.95·7) = 7th = 2000 → bucket [2000, 2100)
    assert row["causes"] == {1: 1, 16: 3, 17: 1, 19: 1, 34: 1, 38: 1}
    assert row["sip_codes"] == {200: 1, 404: 1, 480: 1, 486: 1, 487: 1, 502: 1, 503: 1}


def test_windows_and_buckets_sum_minutes(clickhouse):
    store(clickhouse, minute_of_calls(MINUTE))
    store(clickhouse, [cdr(20 + i, MINUTE + 60_000 + i, answered_s=60, q850=16, pdd=1000) for i in range(2)]
          + [cdr(30, MINUTE + 61_000, answered_s=20, q850=16, egress=None, ingress="TG-ATT-01")])
    rows = quality(clickhouse, MINUTE, MINUTE + 120_000)
    att, verizon = rows
    assert (att["interconnect"], att["direction"], att["seizures"], att["asr"]) == ("att", "in", 1, 1.0)
    assert (verizon["seizures"], verizon["answered"], verizon["effective"]) == (10, 4, 6)
    assert verizon["asr"] == pytest.approx(0.4) and verizon["ner"] == pytest.approx(0.6)
    assert verizon["acd_s"] == pytest.approx((30 + 5 + 60 + 60) / 4)
    assert verizon["pdd_avg_ms"] == pytest.approx(8850 / 9)
    assert verizon["pdd_p95_ms"] == 2100                # rank ceil(0.95·9) = 9th = 2000
    per_minute = [r for r in quality(clickhouse, MINUTE, MINUTE + 120_000, bucket_s=60)
                  if r["interconnect"] == "verizon"]
    assert [(r["seizures"], r["answered"]) for r in per_minute] == [(8, 2), (2, 2)]
    assert quality(clickhouse, MINUTE + 120_000, MINUTE + 180_000) == []


def test_redelivered_cdrs_are_not_counted_twice(clickhouse):
    calls = minute_of_calls(MINUTE)
    store(clickhouse, calls)
    assert store(clickhouse, [dict(c) for c in calls]) == 0
    [row] = quality(clickhouse, MINUTE, MINUTE + 60_000)
    assert (row["seizures"], row["answered"]) == (8, 2)


def test_noc_views_cover_the_current_windows(clickhouse):
    settings, client = clickhouse
    now_minute = int(time.time()) // 60 * 60_000
    store(clickhouse,
          minute_of_calls(now_minute - 120_000) + [cdr(40, now_minute - 30 * 60_000, answered_s=40, q850=16)])
    rows = client.query("SELECT window_minutes, seizures, answered "
                        f"FROM {settings.clickhouse_database}.interconnect_quality_now "
                        "WHERE interconnect = 'verizon' ORDER BY window_minutes").result_rows
    assert rows == [(5, 8, 2), (15, 8, 2), (60, 9, 3)]
    daily = client.query(
        f"SELECT sum(seizures) FROM {settings.clickhouse_database}.interconnect_quality_daily").result_rows
    assert daily == [(9,)]


def test_live_view_query_reads_settled_minutes(clickhouse):
    from cdrflow.clickhouse.sql import query

    settings, client = clickhouse
    # newest minute MINUTE + 5 (still settling, left out); MINUTE − 10 is before the 5-minute window
    store(clickhouse, minute_of_calls(MINUTE) + [cdr(50, MINUTE - 10 * 60_000, answered_s=40, q850=16),
                                                 cdr(51, MINUTE + 5 * 60_000, q850=16)])
    rows = client.query(query("live_interconnects", settings), parameters={"minutes": 5, "settle": 5}).result_rows
    # in progress at the window's end (MINUTE + 1 min): the START of minute MINUTE, whose STOP is not stored
    assert rows == [("verizon", "out", 8, 2, 0.25, 0.5, 1)]
