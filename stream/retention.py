"""Retention: a CDR that starts before the cdr table's TTL window would be stored, counted, and
then dropped by the next merge, unseen. It goes to the dead letters instead, with the reason, so
importing last year's files shows why they are not in ClickHouse (raise CDRFLOW_RETENTION_DAYS
to keep them)."""
from __future__ import annotations

from typing import Any

import orjson

from cdrflow.schemas.envelope import DeadLetter, truncate_raw

DAY_MS = 86_400_000


def split_by_retention(cdrs: list[dict[str, Any]], retention_days: int,
                       now_ms: int) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    """(CDRs inside the window, dead letters of those that start before it). The window is the
    table's TTL, toDateTime(start_time) + retention_days: a row whose start is that old expires."""
    cutoff = now_ms - retention_days * DAY_MS
    if all(c["start_ms"] >= cutoff for c in cdrs):
        return cdrs, []
    kept, letters = [], []
    reason = f"starts before the retention window of {retention_days} days"
    for cdr in cdrs:
        if cdr["start_ms"] >= cutoff:
            kept.append(cdr)
        else:
            letters.append(DeadLetter(stage="retention", reason=reason, source=cdr["source"],
                                      source_format=cdr.get("source_format"),
                                      position=f"{cdr.get('source_file', '')}:{cdr.get('source_offset', 0)}",
                                      raw=truncate_raw(orjson.dumps(cdr))))
    return kept, letters
