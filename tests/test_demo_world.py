"""The demo world `cdrflow up` shows when nothing is configured: shipped settings and inventory
that agree with the simulator's traffic, and replaced entirely by any configuration of one's own."""
from __future__ import annotations

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
