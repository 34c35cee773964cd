"""Write: a take's enriched columns → ClickHouse as one Arrow insert, skipping cdr_ids already stored (redelivery)."""
from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

from cdrflow.clickhouse.sql import query, table
from cdrflow.infra.config import Settings

from cdrflow.stream.columns import Columns



INSERT_ROWS = 100_000
# The writer inserts each cdr_id once (the check below) and every view on cdr groups its block by
# its target's key, so no inserted block holds two rows of one key: merging each block by key on
# insert (ReplacingMergeTree, AggregatingMergeTree) finds nothing and cost ~3 µs/CDR of CPU.
INSERT_SETTINGS = {"optimize_on_insert": 0}


class CdrWriter:
    def __init__(self, client: Client, settings: Settings):
        self.client = client
        self.table = table("cdr", settings)
        self.unfinished: set[str] = set()     # ids a failed write_columns stored before it failed
        self.count_between, self.ids_between, self.ids_between_by_prefix = (
            query(name, settings) for name in ("cdr_count_between", "cdr_ids_between", "cdr_ids_between_by_prefix"))

    def already_stored(self, cdrs: Columns) -> set[str]:
        """cdr_ids (lower case) of this batch that a previous delivery stored.

        The batch's time range selects the candidates through the primary key. When the range
        holds few rows (the usual case: a batch covers seconds of traffic) their ids are fetched
        and compared here. A wide range (long calls, a re-read of old files) is filtered in
        ClickHouse on each id's first 64 bits, passed as an Array(UInt64): text parameters are
        escaped character by character in Python (~0.3 s for a 33k-id take, under the GIL),
        and an Array(UUID) of 100k ids takes ~40 s to bind. The ids fetched are compared whole.
        """
        if not len(cdrs):
            return set()
        starts = cdrs["start_ms"]
        params = {"lo": min(starts), "hi": max(starts)}
        in_range = self.client.query(self.count_between, parameters=params).result_rows[0][0]
        if in_range == 0:
            return set()
        ids = {i.lower() for i in cdrs["cdr_id"]}
        if in_range <= 4 * len(cdrs) + 10_000:
            rows = self.client.query(self.ids_between, parameters=params).result_rows
        else:
            prefixes = [int(i[:8] + i[9:13] + i[14:18], 16) for i in ids]    # decode checked the UUID form
            rows = self.client.query(self.ids_between_by_prefix,
                                     parameters={**params, "prefixes": prefixes}).result_rows
        return ids.intersection(row[0] for row in rows)

    def write_columns(self, cdrs: Columns) -> Columns:
        """Inserts the CDRs not stored yet (also dropping repeats within the batch) as Arrow
        tables of INSERT_ROWS rows; returns those. An insert holds ~1.7 kB per row in chdb's
        memory while it runs, but each insert also writes a part per table and partition (and
        later merges them): a 100k-CDR take as one insert takes half the CPU of four 25k ones for
        ~170 MB more peak RSS. If a slice fails, the ones before it are
        stored: the retry of the same take (stream/ingest.py Store) skips them but still returns
        them as fresh, so their partials are not lost."""
        stored = self.already_stored(cdrs)
        fresh: dict[str, int] = {}
        insert: list[int] = []
        for index, cdr_id in enumerate(cdrs["cdr_id"]):
            key = cdr_id.lower()        # one UUID however it is cased
            if key in fresh:
                continue
            if key not in stored:
                fresh[key] = index
                insert.append(index)
            elif key in self.unfinished:
                fresh[key] = index
        table = (cdrs if len(insert) == len(cdrs) else cdrs.select(insert)).to_arrow()
        done = 0
        try:
            for done in range(0, table.num_rows, INSERT_ROWS):
                self.client.insert_arrow(self.table, table.slice(done, INSERT_ROWS), settings=INSERT_SETTINGS)
        except Exception:
            ids = cdrs["cdr_id"]    # of the slices stored before it; collected per slice they cost ~0.3 µs/CDR
            self.unfinished.update(ids[index].lower() for index in insert[:done])
            raise
        self.unfinished.clear()
        return cdrs if len(fresh) == len(cdrs) else cdrs.select(list(fresh.values()))

    def write(self, cdrs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """write_columns for checked CDR dicts; returns the fresh ones as dicts."""
        return self.write_columns(Columns.from_rows(cdrs)).rows()
