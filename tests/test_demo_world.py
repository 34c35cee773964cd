"""The demo world `cdrflow up` shows when nothing is configured: shipped settings and inventory
that agree with the simulator's traffic, and replaced entirely by any configuration of one's own."""
from __future__ import annotations

import dataclasses
import time
from collections import Counter

import pytest
from cdrflow.infra.config import DEMO_INVENTORY, Settings
from cdrflow.numbering.inventory import parse_inventory
from cdrflow.producers.simulate import default_config, generate

PEAK = 1_794_999_600_000   # 2026-11-18 11:00 UTC


@pytest.fixture
def nothing_configured(monkeypatch):
    for name in ("CDRFLOW_CONFIG", "CDRFLOW_TENANTS", "CDRFLOW_INTERCONNECTS"):
        monkeypatch.delenv(name, raising=False)


def test_the_demo_world_is_used_only_when_nothing_is_configured(nothing_configured, monkeypatch, tmp_path):
    demo = Settings()
    assert demo.demo_world and sorted(demo.tenants) == ["acme", "globex", "initech"]
    assert demo.tenants["acme"].trunks == ["CUST-ACME"] and demo.tenants["acme"].tariffs
    assert not Settings(tenants={}).demo_world and Settings(tenants={}).tenants == {}
    monkeypatch.setenv("CDRFLOW_INTERCONNECTS", '{"TG-X-01": "x"}')
    own = Settings()
    assert not own.demo_world and own.tenants == {} and own.simulator_spare_numbers == []
    monkeypatch.delenv("CDRFLOW_INTERCONNECTS")
    config = tmp_path / "cdrflow.toml"
    config.write_text('home_region = "GB"\n')
    monkeypatch.setenv("CDRFLOW_CONFIG", str(config))
    own = Settings()
    assert not own.demo_world and own.tenants == {} and own.home_region == "GB"


def test_the_simulator_calls_the_demo_tenants_dids_and_the_disconnected_numbers(nothing_configured):
    settings = Settings()
    records = list(generate(default_config(settings, start_ms=PEAK, calls_per_second=50.0), count=40_000))
    inventory = parse_inventory(DEMO_INVENTORY.read_text().splitlines(), settings.home_region)
    status = {f"+{n}": (b.status, b.tenant) for b in inventory for n in range(b.first, b.last + 1)}
    called = Counter(r["called_number"] for r in records if r["called_number"].startswith("+"))
    for tenant, config in settings.tenants.items():
        for did in config.numbers:
            assert status[did] == ("in_service", tenant)
        on_trunk = [r for r in records if config.trunks[0] in (r["ingress_trunk"], r["egress_trunk"])]
        assert on_trunk and {r["called_number"] for r in on_trunk if r["ingress_trunk"] != config.trunks[0]
                             and r["called_number"].startswith("+")} <= set(config.numbers)
    spare = settings.simulator_spare_numbers
    assert all(status[n] == ("disconnected", "acme") and called[n] >= 3 for n in spare)
    never_called = [n for n, (s, _) in status.items() if s == "disconnected" and n not in spare]
    assert never_called and not any(called[n] for n in never_called)      # release candidates


def test_the_live_views_dirty_numbers_are_the_disconnected_numbers_still_called(nothing_configured, clickhouse):
    from cdrflow.clickhouse.sql import query
    from cdrflow.numbering.inventory import import_inventory, release_candidates_query
    from cdrflow.stream.enrich import Enricher
    from cdrflow.stream.sink import CdrWriter

    settings, client = clickhouse
    assert settings.demo_world

    def run(sql, parameters):
        result = client.query(sql, parameters=parameters)
        return result.column_names, result.result_rows

    import_inventory(run, settings, DEMO_INVENTORY)
    start = int(time.time() * 1000) - 90 * 60_000          # 90 minutes up to now: the last hour is counted
    # at a constant rate: on the daily curve, the small hours in New York called a spare number
    # fewer than quarantine_max_calls times, and the test failed by the time of day
    config = dataclasses.replace(default_config(settings, start_ms=start, calls_per_second=10.0), diurnal=False)
    records = list(generate(config, until_ms=start + 90 * 60_000))
    stored = CdrWriter(client, settings).write(
        Enricher(settings.home_region, settings.interconnects, settings.tenants)(records))
    newest = max(r["start_ms"] for r in stored) // 60_000 * 60_000 + 60_000
    in_last_hour = Counter(r["called_e164"] for r in stored if newest - 3_600_000 <= r["start_ms"] < newest)
    _, rows = run(query("live_disconnected_hits", settings), {"top": 10})
    spare = settings.simulator_spare_numbers
    assert {number: calls for number, calls, _, _ in rows} == {n: in_last_hour[n] for n in spare}
    columns, rows = run(*release_candidates_query(settings))
    verdicts = {row[0]: row[columns.index("verdict")] for row in rows}
    assert {n for n, v in verdicts.items() if v == "dirty"} == set(settings.simulator_spare_numbers)
    assert {n for n, v in verdicts.items() if v == "release"} == {f"+1212555018{k}" for k in range(3)}
