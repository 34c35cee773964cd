"""Enrichment of a take's columns: E.164, interconnect and direction, cause class, tenant fields.

Each distinct number, trunk route and cause combination is looked up once per take, and the
results are spread back over the rows by list comprehension: at carrier rates a take repeats
most of its trunks and causes, and many of its numbers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from cdrflow.infra.config import TenantConfig
from cdrflow.schemas.causes import classify
from cdrflow.schemas.e164 import e164_normaliser

from cdrflow.stream.columns import Columns
from cdrflow.tenants.directory import TenantDirectory


@dataclass
class Enricher:
    home_region: str
    interconnects: dict[str, str]
    tenants: dict[str, TenantConfig] = field(default_factory=dict)
    _e164: Callable[[str], str | None] = field(init=False, repr=False)
    _tenancy: TenantDirectory | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._e164 = e164_normaliser(self.home_region)
        self._tenancy = TenantDirectory(self.tenants, self.home_region, self.interconnects) if self.tenants else None

    def interconnect_of(self, source: str, trunk: str | None) -> str | None:
        if not trunk:
            return None
        return self.interconnects.get(f"{source}/{trunk}") or self.interconnects.get(trunk)

    def route(self, source: str, egress: str | None, ingress: str | None) -> tuple[str | None, str | None]:
        """Traffic towards a partner leaves on its trunk (out); traffic from it arrives on one (in)."""
        if ic := self.interconnect_of(source, egress):
            return ic, "out"
        if ic := self.interconnect_of(source, ingress):
            return ic, "in"
        return None, None

    def columns(self, cdrs: Columns) -> Columns:
        """Fills the enrichment columns in place; a value the producer already set is kept."""
        e164 = self._e164
        for filled, number in (("calling_e164", "calling_number"), ("called_e164", "called_number")):
            numbers = cdrs[number]
            found = {n: e164(n) for n in dict.fromkeys(numbers)}
            cdrs[filled] = [given or found[n] for given, n in zip(cdrs[filled], numbers)]

        keys = list(zip(cdrs["source"], cdrs["egress_trunk"], cdrs["ingress_trunk"]))
        routes = {key: self.route(*key) for key in dict.fromkeys(keys)}
        routed = [routes[key] for key in keys]
        given_ic, given_direction = cdrs["interconnect"], cdrs["direction"]
        cdrs["direction"] = [d if ic or not r[0] else r[1] for ic, d, r in zip(given_ic, given_direction, routed)]
        cdrs["interconnect"] = [ic or r[0] or ic for ic, r in zip(given_ic, routed)]

        outcomes = list(zip([a is not None for a in cdrs["answer_ms"]], cdrs["q850_cause"], cdrs["sip_code"]))
        classes = {key: classify(*key) for key in dict.fromkeys(outcomes)}
        cdrs["cause_class"] = [classes[key] for key in outcomes]

        if self._tenancy:
            self._tenant_fields(cdrs, self._tenancy)
        return cdrs

    @staticmethod
    def _tenant_fields(cdrs: Columns, tenancy: TenantDirectory) -> None:
        """Rows with a tenant candidate (a tenant's trunk or number on either side) are classified
        (TenantDirectory.classify); the rest, most carrier traffic, are skipped here."""
        by_trunk = tenancy.by_trunk
        numbers = {n: tenancy.number_tenant(n) for n in dict.fromkeys(cdrs["calling_e164"] + cdrs["called_e164"])}
        candidates = [i for i, (ingress, egress, calling, called) in enumerate(zip(
            cdrs["ingress_trunk"], cdrs["egress_trunk"], cdrs["calling_e164"], cdrs["called_e164"]))
            if by_trunk.get(ingress) or by_trunk.get(egress) or numbers[calling] or numbers[called]]
        tenancy.classify(cdrs.data, candidates)

    def __call__(self, cdrs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The same on CDR dicts (check_wire's), filled in place (fields left out take the model's default)."""
        batch = self.columns(Columns.from_rows(cdrs))
        for cdr, row in zip(cdrs, batch.rows()):
            cdr.update(row)
        return cdrs
