"""CdrWriter's redelivery check: rows stored before are skipped, on both of its paths."""
from __future__ import annotations

import time

from cdrflow.producers.simulate import default_config, generate
from cdrflow.stream.enrich import Enricher
from cdrflow.stream.sink import CdrWriter


def test_redelivered_rows_are_skipped_in_narrow_and_wide_time_ranges(clickhouse):
    settings, client = clickhouse
    writer = CdrWriter(client, settings)
    calls = Enricher(settings.home_region, settings.interconnects, settings.tenants)(
        list(generate(default_config(settings, seed=5, calls_per_second=50.0,
                                     start_ms=int(time.time() * 1000) - 86_400_000), count=30_000)))
    calls.sort(key=lambda c: c["start_ms"])
    assert len(writer.write(calls[:20_000])) == 20_000
    # narrow: 2,000 calls of which 1,000 were stored, the range holds ~2,000 rows (≤ 4 × 2,000 + 10,000)
    again = calls[19_000:21_000]
    assert {c["cdr_id"] for c in writer.write(again)} == {c["cdr_id"] for c in calls[20_000:21_000]}
    # wide: 10 calls from across the whole range (21,000 rows in it), 5 of them stored, and one
    # stored id in upper case (the same UUID): ClickHouse filters on the ids' first 64 bits
    wide = [calls[0], calls[5_000], calls[10_000], calls[15_000],
            dict(calls[20_500], cdr_id=calls[20_500]["cdr_id"].upper())]
    fresh = calls[21_000:21_005] + [calls[29_999]]
    assert [c["cdr_id"] for c in writer.write(wide + fresh)] == [c["cdr_id"] for c in fresh]
    stored = client.query(
        f"SELECT count(), uniqExact(cdr_id) FROM {settings.clickhouse_database}.cdr FINAL").result_rows[0]
    assert stored == (21_006, 21_006)


def test_a_write_that_failed_midway_returns_the_rows_it_stored_as_fresh_on_its_retry(clickhouse):
    """A take goes in slices of INSERT_ROWS; when a later slice fails, the retry skips the stored
    slices but still returns them as fresh (their partials are this take's), and stores the rest."""
    from cdrflow.stream.columns import Columns
    from cdrflow.stream.sink import INSERT_ROWS

    settings, client = clickhouse

    class SecondInsertFails:
        """The real client, whose second Arrow insert fails once (a server gone mid-take)."""

        def __init__(self):
            self.inserts = 0

        def __getattr__(self, name):
            return getattr(client, name)

        def insert_arrow(self, table, arrow_table, **options):
            self.inserts += 1
            if self.inserts == 2:
                raise ConnectionError("gone")
            return client.insert_arrow(table, arrow_table, **options)

    writer = CdrWriter(client, settings)
    writer.client = SecondInsertFails()
    take = Enricher(settings.home_region, settings.interconnects).columns(Columns.from_rows(
        generate(default_config(settings, seed=6, calls_per_second=50.0,
                                start_ms=int(time.time() * 1000) - 86_400_000), count=INSERT_ROWS + 5_000)))
    try:
        writer.write_columns(take)
        raise AssertionError("the second slice should have failed")
    except ConnectionError:
        pass
    assert client.query(f"SELECT count() FROM {writer.table}").result_rows[0][0] == INSERT_ROWS
    assert len(writer.write_columns(take)) == INSERT_ROWS + 5_000          # the retry: all of it is this take's
    assert client.query(f"SELECT count() FROM {writer.table}").result_rows[0][0] == INSERT_ROWS + 5_000
    assert len(writer.write_columns(take)) == 0                             # a redelivery after success


def test_one_uuid_twice_in_a_take_is_stored_once_whatever_its_case(clickhouse):
    """Inserts skip the merge-on-insert (INSERT_SETTINGS) that would have collapsed a repeat in
    the block, so the writer itself must keep one row of a UUID sent in two cases."""
    settings, client = clickhouse
    writer = CdrWriter(client, settings)
    calls = Enricher(settings.home_region, settings.interconnects)(
        list(generate(default_config(settings, seed=8, calls_per_second=50.0,
                                     start_ms=int(time.time() * 1000) - 86_400_000), count=3)))
    again = dict(calls[1], cdr_id=calls[1]["cdr_id"].upper())
    assert [c["cdr_id"] for c in writer.write(calls + [again])] == [c["cdr_id"] for c in calls]
    stored = client.query(f"SELECT count(), uniqExact(cdr_id) FROM {settings.clickhouse_database}.cdr").result_rows[0]
    assert stored == (3, 3)
