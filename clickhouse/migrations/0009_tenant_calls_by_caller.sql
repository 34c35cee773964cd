-- tenant_calls again, ordered by (tenant, caller, time): the questions asked per outside number
-- (was this caller heard from before? was the missed call returned? who do we talk with most?)
-- read each caller's calls together and in time order instead of sorting a period of calls by
-- number per query — over a month of a 3 M-call tenant that sort was the 2–4 s of those views
-- (docs/benchmarks.md). Only calls with an outside number: internal calls have none.
-- accepted checksum: 8239e2681b6ece3c (this file without the TRUNCATE: the same schema)
CREATE TABLE IF NOT EXISTS {database}.tenant_calls_by_caller
(
    tenant         LowCardinality(String),
    remote_number  String,
    start_time     DateTime64(3, 'UTC'),
    call_class     LowCardinality(String),
    tenant_number  String,
    extension      String,
    talk_ms        UInt64,
    wait_ms        UInt64,
    call_direction LowCardinality(String),
    cost           Nullable(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (tenant, remote_number, start_time)
TTL toDateTime(start_time) + INTERVAL {retention_days} DAY;

-- Calls already stored, copied before the view below exists so none is copied twice (migrations
-- run before a worker writes). Emptied first: a re-run after a crash, even one midway through the
-- copy, leaves exactly one copy of each call (clickhouse/migrate.py: re-runnable migrations).
TRUNCATE TABLE IF EXISTS {database}.tenant_calls_by_caller;

INSERT INTO {database}.tenant_calls_by_caller
SELECT tenant, remote_number, start_time, call_class, tenant_number, extension, talk_ms, wait_ms, call_direction, cost
FROM {database}.tenant_calls
WHERE call_class != 'internal' AND remote_number != '';

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.tenant_calls_by_caller_mv TO {database}.tenant_calls_by_caller AS
SELECT tenant, remote_number, start_time, call_class, tenant_number, extension, talk_ms, wait_ms, call_direction, cost
FROM {database}.tenant_calls
WHERE call_class != 'internal' AND remote_number != '';
