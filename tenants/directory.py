"""Tenant call accounting fields: which tenant a CDR belongs to, the employee extension, the call
class from the tenant's side, and (through rating) direction, destination and cost.

Call classes, as the tenant sees the call:
  incoming   from outside to the tenant, answered by a person
  missed     from outside to the tenant, not answered — or answered only by a queue/IVR
             extension (the caller waited in the queue and gave up: the PBX writes no agent)
  outgoing   from the tenant to outside
  forwarded  to the tenant's DID but sent on to an outside number (leaves on an interconnect),
             or leaving the tenant's trunk with a caller ID that is not the tenant's (diversion)
  internal   between two of the tenant's own extensions/numbers
A call between two tenants is attributed to the calling tenant (one CDR, one tenant column).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from cdrflow.infra.config import TenantConfig

from cdrflow.tenants.rating import TariffBook, call_cost, direction_classifier, home_area_of

# A PBX extension is a short dialled number; anything longer is a public number.
MAX_EXTENSION_DIGITS = 6


def is_extension(number: str | None) -> bool:
    return bool(number) and len(number) <= MAX_EXTENSION_DIGITS and number.isdigit()


class TenantDirectory:
    """Trunk and DID → tenant, plus each tenant's rating; lookups are dicts or cached."""

    def __init__(self, tenants: dict[str, TenantConfig], home_region: str, interconnects: dict[str, str]):
        self.tenants = tenants
        self.interconnect_trunks = {key.rpartition("/")[2] for key in interconnects}
        self.by_trunk = {trunk: name for name, cfg in tenants.items() for trunk in cfg.trunks}
        self.by_number: dict[str, str] = {}
        self.blocks: list[tuple[str, str]] = []
        for name, cfg in tenants.items():
            for number in cfg.numbers:
                if number.endswith("*"):
                    self.blocks.append((number[:-1], name))
                else:
                    self.by_number[number] = name
        self.blocks.sort(key=lambda b: -len(b[0]))   # longest block prefix wins
        self.queues = {name: frozenset(cfg.queue_extensions) for name, cfg in tenants.items()}
        self.tariffs = {name: TariffBook(cfg.tariffs) for name, cfg in tenants.items()}
        self.direction = {
            name: direction_classifier(cfg.home_region or home_region,
                                       home_area_of(cfg, cfg.home_region or home_region))
            for name, cfg in tenants.items()}
        self.number_tenant = lru_cache(maxsize=1 << 18)(self._number_tenant)

    def _number_tenant(self, e164: str | None) -> str | None:
        if not e164:
            return None
        if tenant := self.by_number.get(e164):
            return tenant
        for prefix, tenant in self.blocks:
            if e164.startswith(prefix):
                return tenant
        return None

    def classify(self, cdr: dict[str, Any]) -> None:
        """Fills tenant, extension, call_class, call_direction, destination, cost in place."""
        ingress, egress = cdr.get("ingress_trunk"), cdr.get("egress_trunk")
        calling, called = cdr.get("calling_number", ""), cdr.get("called_number", "")
        by_trunk = self.by_trunk
        src_trunk_tenant = by_trunk.get(ingress) if ingress else None
        src = src_trunk_tenant or self.number_tenant(cdr.get("calling_e164"))
        dst_trunk_tenant = by_trunk.get(egress) if egress else None
        dst = dst_trunk_tenant or self.number_tenant(cdr.get("called_e164"))
        answered = cdr.get("answer_ms") is not None
        extension = cdr.get("extension") or None

        if src and src == dst:
            tenant, call_class, extension = src, "internal", extension or (calling if is_extension(calling) else None)
        elif dst and not src:
            tenant = dst
            if not dst_trunk_tenant and egress in self.interconnect_trunks:
                call_class = "forwarded"
            else:
                extension = extension or (called if is_extension(called) else None)
                call_class = "incoming" if answered and extension not in self.queues.get(tenant, ()) else "missed"
        elif src:
            tenant = src
            extension = extension or (calling if is_extension(calling) else None)
            diverted = (src_trunk_tenant and not extension
                        and self.number_tenant(cdr.get("calling_e164")) != tenant)
            call_class = "forwarded" if diverted else "outgoing"
        else:
            return
        # a tenant the producer already set is kept (config may lag behind the PBX)
        tenant = cdr.get("tenant") or tenant
        cdr["tenant"], cdr["extension"], cdr["call_class"] = tenant, extension, call_class
        # Only calls the tenant places are rated: a call forwarded by the network to another number
        # carries the tenant's DID as called number, not where it went.
        if src == tenant and call_class != "internal" and (remote := cdr.get("called_e164")):
            direction, region = self.direction[tenant](remote) if tenant in self.direction else ("unknown", "")
            tariff = self.tariffs[tenant].find(remote, cdr["start_ms"]) if tenant in self.tariffs else None
            cdr["call_direction"] = direction
            cdr["destination"] = (tariff.name or tariff.prefix) if tariff else region
            talk = (cdr.get("billable_ms") or 0) if answered else 0
            cdr["cost"] = call_cost(talk, tariff) if tariff else None
