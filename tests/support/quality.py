"""CDRs with hand-computed quality figures, stored through the real enricher and writer."""
from __future__ import annotations

from cdrflow.schemas.cdr import CDR, make_cdr_id
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.sink import CdrWriter

MINUTE = 1_795_000_020_000 // 60_000 * 60_000    # a whole minute, UTC epoch ms


def cdr(n: int, start_ms: int, *, answered_s: float | None = None, q850: int | None = None,
        sip: int | None = None, pdd: int | None = None, egress: str | None = "TG-VZ-01",
        ingress: str | None = "CUST-1", kind: str = "stop") -> dict:
    answer_ms = start_ms + 3_000 if answered_s is not None else None
    end_ms = answer_ms + int(answered_s * 1000) if answered_s is not None else start_ms + 8_000
    native = f"call-{n}-{start_ms}"
    return CDR(cdr_id=make_cdr_id("sbc-1", native), source="sbc-1", source_format="test", native_id=native,
               call_id=native, record_kind=kind, start_ms=start_ms, answer_ms=answer_ms, end_ms=end_ms,
               duration_ms=end_ms - start_ms, billable_ms=end_ms - answer_ms if answer_ms else 0,
               calling_number="2125550100", called_number="2125550199", ingress_trunk=ingress,
               egress_trunk=egress, q850_cause=q850, sip_code=sip, pdd_ms=pdd,
               source_file="test", source_offset=n).model_dump()


def store(clickhouse, cdrs: list[dict]) -> int:
    settings, client = clickhouse
    enrich = Enricher(settings.home_region, settings.interconnects)
    return len(CdrWriter(client, settings).write(enrich(cdrs)))
