"""Number inventories and calls to them."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from cdrflow.schemas.cdr import CDR, make_cdr_id
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.sink import CdrWriter


def write_csv(path, rows: list[str]):
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def call(seq: int, called: str, caller: str, start: datetime, answered: bool, kind: str = "stop") -> dict:
    start_ms = int(start.timestamp() * 1000)
    native = f"{seq}-{kind}"
    return CDR(cdr_id=make_cdr_id("sim", native), source="sim", source_format="test", native_id=native,
               call_id=str(seq), record_kind=kind, start_ms=start_ms, answer_ms=start_ms + 3000 if answered else None,
               end_ms=start_ms + 60_000, duration_ms=60_000, billable_ms=57_000 if answered else 0,
               calling_number=caller, called_number=called, ingress_trunk="TG-VZ-01", q850_cause=16 if answered else 19,
               source_file="sim", source_offset=seq).model_dump()


def store(settings, client, cdrs: list[dict]) -> None:
    """Through the worker's enrich + write path, a month per insert (the cdr table has daily partitions)."""
    writer = CdrWriter(client, settings.clickhouse_database)
    enrich = Enricher(settings.home_region, settings.interconnects)
    by_month = defaultdict(list)
    for cdr in cdrs:
        by_month[cdr["start_ms"] // (30 * 86_400_000)].append(cdr)
    for month in sorted(by_month):
        writer.write(enrich(by_month[month]))


HEADER = "number,status,tenant,channel,status_since\n"
