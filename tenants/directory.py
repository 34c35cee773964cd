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

from typing import Iterable

from cdrflow.infra.config import TenantConfig
from cdrflow.schemas.number_plan import NumberPlan

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
        # DID blocks ("+44207946*") by prefix length, longest first: a number is looked up once per
        # length, however many blocks there are (no cache to fill with a carrier's numbers)
        blocks: dict[int, dict[str, str]] = {}
        for name, cfg in tenants.items():
            for number in cfg.numbers:
                if number.endswith("*"):
                    blocks.setdefault(len(number) - 1, {})[number[:-1]] = name
                else:
                    self.by_number[number] = name
        self.blocks = sorted(blocks.items(), reverse=True)
        self.queues = {name: frozenset(cfg.queue_extensions) for name, cfg in tenants.items()}
        self.tariffs = {name: TariffBook(cfg.tariffs) for name, cfg in tenants.items()}
        plan = NumberPlan()
        self.direction = {
            name: direction_classifier(cfg.home_region or home_region,
                                       home_area_of(cfg, cfg.home_region or home_region), plan=plan)
            for name, cfg in tenants.items()}

    def number_tenant(self, e164: str | None) -> str | None:
        if not e164:
            return None
        if tenant := self.by_number.get(e164):
            return tenant
        for length, prefixes in self.blocks:
            if tenant := prefixes.get(e164[:length]):
                return tenant
        return None

    def classify(self, columns: dict[str, list], rows: Iterable[int]) -> None:
        """Fills tenant, extension, call_class, call_direction, destination, cost of the rows (indices
        into columns: one list per CDR field) in place; a row with no tenant on either side is left
        as it is. Column by column rather than a dict per CDR: a take has tens of thousands."""
        by_trunk, number_tenant, queues = self.by_trunk, self.number_tenant, self.queues
        interconnect_trunks, directions, tariffs = self.interconnect_trunks, self.direction, self.tariffs
        ingress_c, egress_c = columns["ingress_trunk"], columns["egress_trunk"]
        calling_c, called_c = columns["calling_number"], columns["called_number"]
        calling_e164_c, called_e164_c = columns["calling_e164"], columns["called_e164"]
        answer_c, start_c, billable_c = columns["answer_ms"], columns["start_ms"], columns["billable_ms"]
        tenant_c, extension_c, class_c = columns["tenant"], columns["extension"], columns["call_class"]
        direction_c, destination_c, cost_c = columns["call_direction"], columns["destination"], columns["cost"]
        for i in rows:
            ingress, egress = ingress_c[i], egress_c[i]
            calling, called = calling_c[i], called_c[i]
            src_trunk_tenant = by_trunk.get(ingress) if ingress else None
            src = src_trunk_tenant or number_tenant(calling_e164_c[i])
            dst_trunk_tenant = by_trunk.get(egress) if egress else None
            dst = dst_trunk_tenant or number_tenant(called_e164_c[i])
            answered = answer_c[i] is not None
            extension = extension_c[i] or None

            if src and src == dst:
                tenant, call_class = src, "internal"
                extension = extension or (calling if is_extension(calling) else None)
            elif dst and not src:
                tenant = dst
                if not dst_trunk_tenant and egress in interconnect_trunks:
                    call_class = "forwarded"
                else:
                    extension = extension or (called if is_extension(called) else None)
                    call_class = "incoming" if answered and extension not in queues.get(tenant, ()) else "missed"
            elif src:
                tenant = src
                extension = extension or (calling if is_extension(calling) else None)
                diverted = src_trunk_tenant and not extension and number_tenant(calling_e164_c[i]) != tenant
                call_class = "forwarded" if diverted else "outgoing"
            else:
                continue
            # a tenant the producer already set is kept (config may lag behind the PBX)
            tenant = tenant_c[i] or tenant
            tenant_c[i], extension_c[i], class_c[i] = tenant, extension, call_class
            # Only calls the tenant places are rated: a call forwarded by the network to another number
            # carries the tenant's DID as called number, not where it went.
            if src == tenant and call_class != "internal" and (remote := called_e164_c[i]):
                direction, region = directions[tenant](remote) if tenant in directions else ("unknown", "")
                tariff = tariffs[tenant].find(remote, start_c[i]) if tenant in tariffs else None
                direction_c[i] = direction
                destination_c[i] = (tariff.name or tariff.prefix) if tariff else region
                talk = (billable_c[i] or 0) if answered else 0
                cost_c[i] = call_cost(talk, tariff) if tariff else None
