"""Rating: a tenant's tariff for a call by longest prefix and period, its cost, and the call's
direction (local / mobile / long_distance / international) relative to the tenant's home.

Cost is computed here, at enrichment, and stored per call rather than joined in ClickHouse:
ClickHouse has no longest-prefix dictionary for strings (ip_trie is for addresses), so a view
would have to explode every call into its prefixes and join — per query, over millions of rows.
Here it is ~15 dict probes per distinct (tenant, number), and the views only sum a column.
The price of that choice: a tariff changed after the fact needs a re-rate of the stored calls.

The per-number caches here are small (NUMBER_CACHE): they keep a tenant's frequent destinations,
but a carrier's tenants call more distinct numbers than any cache holds. At 1 << 16 entries a
tenant, filled by the bench's traffic, they held ~60 MB of a worker and saved no CPU
(docs/benchmarks.md, 2026-12-05, issue 19: enrichment caches).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timezone
from functools import lru_cache
from typing import Callable

import phonenumbers

from cdrflow.infra.config import Tariff, TenantConfig
from cdrflow.schemas.number_plan import NumberPlan, phone_number

NUMBER_CACHE = 1 << 12      # entries per cache of per-number answers (see above)


def billed_seconds(talk_ms: int, increments: str) -> int:
    """Talk time rounded up to the billing increments "first/next" (60/60, 1/1, 60/1)."""
    if talk_ms <= 0:
        return 0
    first, step = _increments(increments)
    talk_s = -(-talk_ms // 1000)   # a started second is a second
    if talk_s <= first:
        return first
    return first + -(-(talk_s - first) // step) * step


@lru_cache(maxsize=None)
def _increments(increments: str) -> tuple[int, int]:
    first, step = (int(x) for x in increments.split("/"))
    return first, step


def call_cost(talk_ms: int, tariff: Tariff) -> float:
    """Unanswered calls cost nothing; answered ones the connection fee plus billed minutes."""
    if talk_ms <= 0:
        return 0.0
    return round(tariff.connection_fee + tariff.price_per_min * billed_seconds(talk_ms, tariff.increments) / 60, 6)


def area_code(parsed: phonenumbers.PhoneNumber) -> str:
    nsn = phonenumbers.national_significant_number(parsed)
    return nsn[:phonenumbers.length_of_geographical_area_code(parsed)]


def direction_classifier(home_region: str, home_area: str, cache_size: int = NUMBER_CACHE,
                         plan: NumberPlan | None = None) -> Callable[[str], tuple[str, str]]:
    """E.164 → (direction, region code). NANP numbers are FIXED_LINE_OR_MOBILE in the numbering
    plan, so in the US 'mobile' never appears: there it is local or long distance by area code.
    Region and type are phonenumbers' answers, read from the NumberPlan's prefix table (share one
    plan between classifiers: the table is per country code, not per home)."""

    home_cc = phonenumbers.country_code_for_region(home_region)
    plan = plan or NumberPlan()

    @lru_cache(maxsize=cache_size)
    def classify(e164: str) -> tuple[str, str]:
        found = plan.split(e164)
        if found is None:
            return "unknown", ""
        cc, nsn = found
        # by country code, not region: Guernsey mobiles (+44 7911) are GG but dialled as UK mobiles,
        # and a NANP call to Canada is long distance, not international
        if cc != home_cc:
            return "international", plan.region(cc, nsn) or ""
        region, kind = plan.region_and_type(cc, nsn)
        if kind == phonenumbers.PhoneNumberType.MOBILE:
            return "mobile", region or ""
        # an area code is a prefix of the national number: only one that starts with the home area
        # can be local, and only then is the area code (a costly lookup) worth finding
        local = home_area and nsn.startswith(home_area) and area_code(phone_number(cc, nsn)) == home_area
        return ("local" if local else "long_distance"), region or ""

    return classify


class TariffBook:
    """One tenant's tariffs: longest matching prefix first, then the line valid on the call's day."""

    def __init__(self, tariffs: list[Tariff]):
        self.by_prefix: dict[str, list[Tariff]] = defaultdict(list)
        for t in tariffs:
            self.by_prefix[t.prefix].append(t)
        self.longest = max((len(p) for p in self.by_prefix), default=0)
        self.candidates = lru_cache(maxsize=NUMBER_CACHE)(self._candidates)

    def _candidates(self, digits: str) -> tuple[Tariff, ...]:
        found: list[Tariff] = []
        for n in range(min(len(digits), self.longest), -1, -1):
            found += self.by_prefix.get(digits[:n], ())
        return tuple(found)

    def find(self, e164: str, start_ms: int) -> Tariff | None:
        candidates = self.candidates(e164.lstrip("+"))
        if not candidates:
            return None
        day = _utc_day(start_ms // 86_400_000)
        for t in candidates:
            if (t.valid_from is None or t.valid_from <= day) and (t.valid_to is None or day < t.valid_to):
                return t
        return None


@lru_cache(maxsize=1 << 10)
def _utc_day(epoch_day: int) -> date:
    return datetime.fromtimestamp(epoch_day * 86_400, timezone.utc).date()


def home_area_of(config: TenantConfig, home_region: str) -> str:
    """The configured home area, else the area code of the tenant's first DID."""
    if config.home_area is not None:
        return config.home_area
    for number in config.numbers:
        if not number.endswith("*"):
            try:
                return area_code(phonenumbers.parse(number, home_region))
            except phonenumbers.NumberParseException:
                continue
    return ""


