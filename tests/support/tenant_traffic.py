"""Simulated tenant traffic with known truth: each call is drawn with its intended tenant, class,
extension, direction and price, and CDR dicts are built from it the way a switch writes them.
Tests compute every expected figure from the truth list in plain Python."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from random import Random

from cdrflow.infra.config import TenantConfig
from cdrflow.schemas.cdr import CDR, make_cdr_id
from cdrflow.tenants.views import view_query

DAY0 = 1_795_000_000_000 // 86_400_000 * 86_400_000 + 86_400_000   # a UTC midnight in Nov 2026
HOUR = 3_600_000

TENANTS = {
    "acme": TenantConfig(
        trunks=["CUST-ACME"], numbers=[f"+1212555{n:04d}" for n in range(100, 106)] + ["+1212556*"],
        queue_extensions=["600"], callback_numbers=["+12125559999"], channels=4,
        tariffs=[{"prefix": "", "name": "default", "price_per_min": 0.05},
                 {"prefix": "1", "name": "US", "price_per_min": 0.01, "increments": "1/1"},
                 {"prefix": "1212", "name": "NYC", "price_per_min": 0.005, "increments": "60/1"},
                 {"prefix": "44", "name": "UK", "price_per_min": 0.10, "connection_fee": 0.05,
                  "increments": "60/60", "valid_to": "2026-11-21"},
                 {"prefix": "44", "name": "UK", "price_per_min": 0.12, "connection_fee": 0.05,
                  "increments": "60/60", "valid_from": "2026-11-21"},
                 {"prefix": "447", "name": "UK mobile", "price_per_min": 0.20, "increments": "60/60"}]),
    "globex": TenantConfig(
        trunks=["CUST-GLOBEX"], numbers=[f"+44207946{n:04d}" for n in range(10, 14)], home_region="GB",
        channels=3,
        tariffs=[{"prefix": "", "name": "any", "price_per_min": 0.03, "increments": "1/1"}]),
}
# Outside numbers per tenant and the direction each has from that tenant's home.
REMOTES = {
    "acme": {"local": [f"+1212{n}" for n in ("7340001", "7340002", "7340003", "2390004", "6880005")],
             "long_distance": ["+13125550147", "+14155550199", "+12025550111"],
             "international": ["+442071838750", "+447700900123", "+33142278186"]},
    "globex": {"local": ["+442079460999", "+442071231234"], "long_distance": ["+441619460000"],
               "mobile": ["+447400123456", "+447911123456"], "international": ["+12125550000"]},
}
EXTENSIONS = {"acme": ["201", "202", "203", "204"], "globex": ["11", "12"]}


@dataclass
class Call:
    tenant: str
    call_class: str
    start_ms: int
    answer_ms: int | None
    end_ms: int
    tenant_number: str
    remote: str
    extension: str | None
    direction: str | None = None
    cdr: dict | None = None

    @property
    def talk_ms(self) -> int:
        return 0 if self.call_class == "missed" or self.answer_ms is None else self.end_ms - self.answer_ms

    @property
    def wait_ms(self) -> int:
        if self.answer_ms is None or self.call_class == "missed":
            return self.end_ms - self.start_ms
        return self.answer_ms - self.start_ms


def _cdr(n: int, call: Call, calling: str, called: str, ingress: str, egress: str, extension: str | None) -> dict:
    native = f"t-{n}"
    answer = call.answer_ms
    return CDR(cdr_id=make_cdr_id("pbx", native), source="pbx", source_format="test", native_id=native,
               call_id=native, start_ms=call.start_ms, answer_ms=answer, end_ms=call.end_ms,
               duration_ms=call.end_ms - call.start_ms, billable_ms=call.end_ms - answer if answer else 0,
               calling_number=calling, called_number=called, ingress_trunk=ingress, egress_trunk=egress,
               extension=extension, q850_cause=16, source_file="test", source_offset=n).model_dump()


def generate(n: int, seed: int = 7, days: int = 2) -> list[Call]:
    rng = Random(seed)
    calls = []
    for i in range(n):
        tenant = rng.choice(["acme", "acme", "globex"])
        cfg = TENANTS[tenant]
        trunk = cfg.trunks[0]
        dids = [x for x in cfg.numbers if not x.endswith("*")]
        if tenant == "acme":
            dids = dids + ["+12125560042"]          # a DID from the block
        did = rng.choice(dids)
        start = DAY0 + rng.randrange(days * 24 * HOUR)
        kind = rng.choices(["incoming", "outgoing", "internal", "forwarded", "diverted"], [50, 30, 8, 6, 6])[0]
        answered = rng.random() < 0.7
        ring = rng.randrange(1_000, 30_000)
        talk = rng.choice([0, 1, 5, 59, 60, 61, 119, 150, 600]) * 1000 + rng.randrange(0, 1000)
        answer = start + ring if answered else None
        end = (answer + talk) if answered else start + ring
        exts = EXTENSIONS[tenant]
        if kind in ("incoming",):
            remote = rng.choice(sum(REMOTES[tenant].values(), []) + ["+12125559999", "+15550001111"] * 2)
            if rng.random() < 0.3:   # some callers call a lot: repeats and spam candidates
                remote = "+16465550123" if tenant == "acme" else "+442079460998"
            queue = answered and rng.random() < 0.2
            ext = "600" if queue and tenant == "acme" else (rng.choice(exts) if answered else None)
            call_class = "incoming" if answered and ext != "600" else "missed"
            call = Call(tenant, call_class, start, answer, end, did, remote, ext)
            call.cdr = _cdr(i, call, remote, did, "TG-VZ-01", trunk, ext)
        elif kind == "outgoing":
            direction = rng.choice(list(REMOTES[tenant]))
            remote = rng.choice(REMOTES[tenant][direction])
            if rng.random() < 0.1:      # calling back a missed caller
                remote = "+16465550123" if tenant == "acme" else "+442079460998"
                direction = "long_distance" if tenant == "acme" else "local"   # 646 is not 212
            ext = rng.choice(exts)
            call = Call(tenant, "outgoing", start, answer, end, did, remote, ext, direction)
            call.cdr = _cdr(i, call, did, remote, trunk, "TG-ATT-01", ext)
        elif kind == "internal":
            a, b = rng.sample(exts, 2)
            call = Call(tenant, "internal", start, answer, end, a, b, a)
            call.cdr = _cdr(i, call, a, b, trunk, trunk, None)
        elif kind == "forwarded":   # to the tenant's DID, forwarded by the network to a mobile
            caller = rng.choice(REMOTES[tenant]["local"])
            target = rng.choice(REMOTES[tenant]["long_distance"])
            call = Call(tenant, "forwarded", start, answer, end, did, caller, None)
            call.cdr = _cdr(i, call, caller, did, "TG-VZ-01", "TG-ATT-01", None)
        else:   # the PBX diverts: re-originates on its trunk with the original caller's ID
            caller = rng.choice(REMOTES[tenant]["local"])
            target = rng.choice(REMOTES[tenant]["long_distance"])
            call = Call(tenant, "forwarded", start, answer, end, caller, target, None, "long_distance")
            call.cdr = _cdr(i, call, caller, target, trunk, "TG-ATT-01", None)
        calls.append(call)
    return calls


def store(settings, client, calls: list[Call]) -> tuple[object, list[dict]]:
    """The calls enriched and written as the worker does; (settings with TENANTS, the enriched CDRs)."""
    from cdrflow.stream.enrich import Enricher
    from cdrflow.stream.sink import CdrWriter

    settings = settings.model_copy(update={"tenants": TENANTS})
    cdrs = Enricher(settings.home_region, settings.interconnects, settings.tenants)([dict(c.cdr) for c in calls])
    CdrWriter(client, settings).write(cdrs)
    return settings, cdrs


def expected_cost(call: Call) -> float | None:
    """The tariff by hand: longest prefix valid on the day, then increments."""
    if call.call_class not in ("outgoing", "forwarded") or call.direction is None:
        return None
    digits = call.remote.lstrip("+")
    day = (call.start_ms - DAY0) // 86_400_000   # 0 = 2026-11-19 … see TENANTS' UK period switch
    best = None
    for t in TENANTS[call.tenant].tariffs:
        valid = ((t.valid_from is None or (t.valid_from - _DAY0_DATE).days <= day)
                 and (t.valid_to is None or day < (t.valid_to - _DAY0_DATE).days))
        if digits.startswith(t.prefix) and valid and (best is None or len(t.prefix) > len(best.prefix)):
            best = t
    if call.talk_ms <= 0:
        return 0.0
    first, step = map(int, best.increments.split("/"))
    secs = math.ceil(call.talk_ms / 1000)
    billed = first if secs <= first else first + math.ceil((secs - first) / step) * step
    return round(best.connection_fee + best.price_per_min * billed / 60, 6)   # billed in micro-units



_DAY0_DATE = datetime.fromtimestamp(DAY0 / 1000, timezone.utc).date()


FROM_MS, TO_MS = DAY0 + 6 * HOUR, DAY0 + 54 * HOUR      # the period asked; traffic spans 3 days


FROM, TO = (datetime.fromtimestamp(x / 1000, timezone.utc) for x in (FROM_MS, TO_MS))


def ask(stored, view: str, tenant: str = "acme", **rules) -> list[dict]:
    settings, client, _ = stored
    sql, params = view_query(settings, view, tenant, FROM, TO, **rules)
    result = client.query(sql, parameters=params)
    return [dict(zip(result.column_names, row)) for row in result.result_rows]
