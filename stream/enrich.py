"""Enrichment: pure functions over a batch of CDR dicts (E.164, interconnect, cause class)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from cdrflow.infra.config import TenantConfig
from cdrflow.schemas.causes import classify
from cdrflow.schemas.e164 import e164_normaliser

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

    def __call__(self, cdrs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fills the enrichment fields in place; a field the producer already set is kept."""
        e164, tenancy = self._e164, self._tenancy
        for cdr in cdrs:
            cdr["calling_e164"] = cdr.get("calling_e164") or e164(cdr["calling_number"])
            cdr["called_e164"] = cdr.get("called_e164") or e164(cdr["called_number"])
            if not cdr.get("interconnect"):
                # Traffic towards a partner leaves on its trunk (out); traffic from it arrives on one (in).
                if ic := self.interconnect_of(cdr["source"], cdr.get("egress_trunk")):
                    cdr["interconnect"], cdr["direction"] = ic, "out"
                elif ic := self.interconnect_of(cdr["source"], cdr.get("ingress_trunk")):
                    cdr["interconnect"], cdr["direction"] = ic, "in"
            cdr["cause_class"] = classify(cdr.get("answer_ms") is not None, cdr.get("q850_cause"), cdr.get("sip_code"))
            if tenancy:
                tenancy.classify(cdr)
        return cdrs
