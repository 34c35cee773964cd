"""Retention: a CDR that starts before the cdr table's TTL window would be stored, counted, and
then dropped by the next merge, unseen. It goes to the dead letters instead, with the reason, so
importing last year's files shows why they are not in ClickHouse (raise CDRFLOW_RETENTION_DAYS
to keep them)."""
from __future__ import annotations

import orjson

from cdrflow.schemas.envelope import DeadLetter, truncate_raw

from cdrflow.stream.columns import Columns

DAY_MS = 86_400_000


def split_by_retention(cdrs: Columns, retention_days: int, now_ms: int) -> tuple[Columns, list[DeadLetter]]:
    """(CDRs inside the window, dead letters of those that start before it). The window is the
    table's TTL, toDateTime(start_time) + retention_days: a row whose start is that old expires."""
    cutoff = now_ms - retention_days * DAY_MS
    starts = cdrs["start_ms"]
    if not starts or min(starts) >= cutoff:
        return cdrs, []
    kept = [i for i, start in enumerate(starts) if start >= cutoff]
    expired = [i for i, start in enumerate(starts) if start < cutoff]
    reason = f"starts before the retention window of {retention_days} days"
    letters = [DeadLetter(stage="retention", reason=reason, source=cdr["source"], source_format=cdr["source_format"],
                          position=f"{cdr['source_file']}:{cdr['source_offset']}", raw=truncate_raw(orjson.dumps(cdr)))
               for cdr in cdrs.rows(expired)]
    return cdrs.select(kept), letters
