"""clickhouse/sql.py: one UTC text for every date-time parameter, placeholders filled only with
checked identifiers, and every named query a readable file that ClickHouse parses."""
from __future__ import annotations

import os
import re
import time
from datetime import date, datetime, timedelta, timezone
from importlib import resources

import pytest
from cdrflow.clickhouse.sql import count_of, fill, parameters, query, source, table, utc
from cdrflow.infra.config import Settings
from cdrflow.numbering.inventory import build_checkpoint, release_candidates_query
from cdrflow.tenants.views import view_query

QUERIES = sorted(e.name[:-4] for e in (resources.files("cdrflow.clickhouse") / "queries").iterdir()
                 if e.name.endswith(".sql"))


@pytest.fixture
def new_york():
    """The process's local time zone five hours behind UTC in March: a naive time read as local shows."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_a_naive_datetime_is_read_as_utc_by_every_caller(new_york):
    naive = datetime(2024, 3, 1, 9, 30, 15, 123456)
    assert utc(naive) == "2024-03-01 09:30:15.123"
    # 2024-03-01 04:30:15.123 at UTC−5 is 09:30:15.123 UTC
    assert utc(datetime(2024, 3, 1, 4, 30, 15, 123456, timezone(timedelta(hours=-5)))) == "2024-03-01 09:30:15.123"
    # across midnight: 2024-03-02 01:00 at UTC+2 is 2024-03-01 23:00 UTC
    assert utc(datetime(2024, 3, 2, 1, 0, tzinfo=timezone(timedelta(hours=2)))) == "2024-03-01 23:00:00.000"
    settings = Settings()
    assert release_candidates_query(settings, as_of=naive)[1]["as_of"] == "2024-03-01 09:30:15.123"
    assert view_query(settings, "summary", "acme", naive, naive)[1]["from"] == "2024-03-01 09:30:15.123"


def test_utc_text_is_the_instant_clickhouse_reads_and_the_day_a_checkpoint_serves(clickhouse, new_york):
    settings, client = clickhouse
    moment = datetime(2024, 3, 1, 4, 30, 15, 123000, timezone(timedelta(hours=-5)))
    rows = client.query("SELECT toUnixTimestamp64Milli({t:DateTime64(3, 'UTC')})",
                        parameters={"t": utc(moment)}).result_rows
    assert rows[0][0] == int(moment.timestamp() * 1000) == 1709285415123
    # 21:00 at UTC−5 on 1 March is 02:00 UTC on 2 March: the checkpoint is for 2 March, in
    # ClickHouse (its header row) and in what build_checkpoint answers
    late = datetime(2024, 3, 1, 21, 0, tzinfo=timezone(timedelta(hours=-5)))
    checkpoint = build_checkpoint(lambda sql, p: client.query(sql, parameters=p), settings, as_of=late)
    assert checkpoint.day == date(2024, 3, 2) and checkpoint.built
    days = client.query("SELECT day, toString(as_of) FROM cdrflow.number_quarantine_checkpoints").result_rows
    assert days == [(date(2024, 3, 2), "2024-03-02 02:00:00.000")]


def test_fill_puts_only_checked_identifiers_into_sql():
    settings = Settings(clickhouse_database="cdr_db", retention_days=30)
    text = "SELECT {x:UInt32}, '${interconnect}' FROM {database}.{name} WHERE age < {retention_days}"
    assert fill(text, settings, name="t1") == \
        "SELECT {x:UInt32}, '${interconnect}' FROM cdr_db.t1 WHERE age < 30"
    with pytest.raises(ValueError, match="invalid identifier"):
        fill(text, settings, name="t; DROP TABLE cdr")
    with pytest.raises(ValueError, match="no value for placeholder {name}"):
        fill(text, settings)
    with pytest.raises(ValueError, match="invalid database name"):
        fill(text, Settings(clickhouse_database="a.b"), name="t")
    assert table("cdr", settings) == "cdr_db.cdr"
    with pytest.raises(ValueError, match="invalid identifier"):
        table("cdr WHERE 1", settings)
    with pytest.raises(ValueError, match="one query"):
        count_of("SELECT 1; SELECT 2")


def test_the_parameters_a_query_takes_come_from_its_file():
    assert parameters(query("tenant_channel_load", Settings())) == ["tenant", "from", "to", "bucket_s", "channels",
                                                                   "gos"]
    sql, params = view_query(Settings(), "destinations", "acme", datetime(2024, 3, 1), datetime(2024, 3, 2), top=5)
    assert params == {"tenant": "acme", "from": "2024-03-01 00:00:00.000", "to": "2024-03-02 00:00:00.000", "top": 5}


def test_every_named_query_says_what_it_answers_and_parses(clickhouse):
    _, client = clickhouse
    assert len(QUERIES) > 30
    for name in QUERIES:
        text = source(name)
        assert text.startswith("-- "), f"{name}.sql: a comment on top says what it answers and what it takes"
        identifiers = {p: "number_hits_daily" for p in re.findall(r"(?<!\$)\{([a-z_]+)\}", text)
                       if p not in ("database", "retention_days")}
        filled = query(name, Settings(), **identifiers)
        code = "\n".join(line for line in filled.splitlines() if not line.lstrip().startswith("--"))
        for statement in code.split(";"):
            if statement.strip():
                formatted = client.query("SELECT formatQuery({sql:String})", parameters={"sql": statement})
                assert formatted.result_rows[0][0], name
