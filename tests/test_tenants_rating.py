"""Rating rules pinned to hand-worked cases."""
from __future__ import annotations

from datetime import date

import pytest
from cdrflow.infra.config import Tariff, TenantConfig
from cdrflow.tenants.directory import TenantDirectory
from cdrflow.tenants.rating import (
    TariffBook,
    billed_seconds,
    call_cost,
    direction_classifier,
)

JAN_1_2027_MS = 1_798_761_600_000


@pytest.mark.parametrize("talk_ms,increments,billed", [
    (0, "60/60", 0), (1, "60/60", 60), (60_000, "60/60", 60), (60_001, "60/60", 120),
    (61_000, "1/1", 61), (60_400, "1/1", 61), (30_000, "60/1", 60), (61_200, "60/1", 62), (125_000, "30/6", 126),
])
def test_billing_increments(talk_ms, increments, billed):
    assert billed_seconds(talk_ms, increments) == billed


def test_cost_and_longest_prefix_by_period():
    book = TariffBook([Tariff(prefix="", price_per_min=1.0),
                       Tariff(prefix="44", price_per_min=0.10, connection_fee=0.05),
                       Tariff(prefix="447", price_per_min=0.20, valid_from=date(2027, 1, 1)),
                       Tariff(prefix="447", price_per_min=0.30, valid_to=date(2027, 1, 1))])
    assert book.find("+447400123456", JAN_1_2027_MS).price_per_min == 0.20
    assert book.find("+447400123456", JAN_1_2027_MS - 1).price_per_min == 0.30
    assert book.find("+442071838750", JAN_1_2027_MS).prefix == "44"
    assert book.find("+33142278186", JAN_1_2027_MS).prefix == ""
    assert call_cost(90_000, book.find("+442071838750", 0)) == pytest.approx(0.05 + 0.10 * 2)
    assert call_cost(0, book.find("+442071838750", 0)) == 0
    assert TariffBook([]).find("+1", 0) is None


def test_direction_relative_to_home():
    gb = direction_classifier("GB", "20")
    assert gb("+442079460999")[0] == "local"
    assert gb("+441619460000")[0] == "long_distance"
    assert gb("+447400123456")[0] == "mobile"
    assert gb("+447911123456")[0] == "mobile"          # Guernsey mobile, same country code
    assert gb("+12125550000") == ("international", "US")
    us = direction_classifier("US", "212")
    assert us("+12127340001")[0] == "local" and us("+13125550147")[0] == "long_distance"


def test_a_number_belongs_to_its_did_or_the_longest_block_that_holds_it():
    directory = TenantDirectory({
        "acme": TenantConfig(numbers=["+44207946*", "+442079460999"]),
        "globex": TenantConfig(numbers=["+4420794612*", "+12125550100"]),
        "initech": TenantConfig(numbers=["+442079460999*"]),
    }, "GB", {})
    assert directory.number_tenant("+442079460001") == "acme"          # acme's block
    assert directory.number_tenant("+442079461234") == "globex"        # globex's longer block inside it
    assert directory.number_tenant("+442079460999") == "acme"          # a DID before any block
    assert directory.number_tenant("+4420794609991") == "initech"      # the longest block
    assert directory.number_tenant("+12125550100") == "globex"
    assert directory.number_tenant("+4420794") is None                 # shorter than every block
    assert directory.number_tenant("+442071838750") is None
    assert directory.number_tenant(None) is None
