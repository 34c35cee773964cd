"""Write: enriched CDR dicts → ClickHouse, skipping cdr_ids already stored (redelivery)."""
from __future__ import annotations

from typing import Any

import orjson
from clickhouse_connect.driver.client import Client

# The wire fields the cdr table takes (times as epoch ms into its EPHEMERAL inputs).
CDR_COLUMNS = (
    "cdr_id", "source", "source_format", "native_id", "call_id", "correlation_id", "record_kind",
    "start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms",
    "calling_number", "called_number", "calling_e164", "called_e164",
    "ingress_trunk", "egress_trunk", "interconnect", "direction",
    "q850_cause", "sip_code", "cause_class", "disconnect_initiator", "pdd_ms",
    "tenant", "extension", "source_file", "source_offset",
    "call_class", "call_direction", "destination", "cost",
)


class CdrWriter:
    def __init__(self, client: Client, database: str):
        self.client = client
        self.table = f"{database}.cdr"

    def already_stored(self, cdrs: list[dict[str, Any]]) -> set[str]:
        """cdr_ids of this batch that a previous delivery stored.

        The batch's time range selects the candidates through the primary key. When the range
        holds few rows (the usual case: a batch covers seconds of traffic) their ids are fetched
        and compared here. A wide range (long calls, a re-read of old files) is filtered in
        ClickHouse on each id's first 64 bits, passed as an Array(UInt64): text parameters are
        escaped character by character in Python (~0.3 s for a 33k-id take, under the GIL),
        and an Array(UUID) of 100k ids takes ~40 s to bind. The ids fetched are compared whole.
        """
        if not cdrs:
            return set()
        starts = [c["start_ms"] for c in cdrs]
        window = "start_time BETWEEN fromUnixTimestamp64Milli({lo:Int64}) AND fromUnixTimestamp64Milli({hi:Int64})"
        params = {"lo": min(starts), "hi": max(starts)}
        in_range = self.client.query(f"SELECT count() FROM {self.table} WHERE {window}",
                                     parameters=params).result_rows[0][0]
        if in_range == 0:
            return set()
        ids = {c["cdr_id"].lower() for c in cdrs}
        if in_range <= 4 * len(cdrs) + 10_000:
            rows = self.client.query(f"SELECT toString(cdr_id) FROM {self.table} WHERE {window}",
                                     parameters=params).result_rows
        else:
            prefixes = [int(i[:8] + i[9:13] + i[14:18], 16) for i in ids]    # decode checked the UUID form
            rows = self.client.query(
                f"SELECT toString(cdr_id) FROM {self.table} WHERE {window} "
                "AND reinterpretAsUInt64(reverse(substring(UUIDStringToNum(toString(cdr_id)), 1, 8))) "
                "IN {prefixes:Array(UInt64)}",
                parameters={**params, "prefixes": prefixes}).result_rows
        return ids.intersection(row[0] for row in rows)

    def write(self, cdrs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Inserts the CDRs not stored yet (also dropping repeats within the batch); returns those."""
        stored = self.already_stored(cdrs)
        fresh: dict[str, dict[str, Any]] = {}
        for cdr in cdrs:
            if cdr["cdr_id"].lower() not in stored:
                fresh.setdefault(cdr["cdr_id"], cdr)
        if fresh:
            self.client.raw_insert(self.table, column_names=list(CDR_COLUMNS),
                                   insert_block=orjson.dumps(list(fresh.values())), fmt="JSONEachRow")
        return list(fresh.values())
