-- Platform health as ClickHouse sees it, for the Grafana "Platform health" dashboard: the worker's
-- /stats counters live in memory only, so each worker appends a sample every few seconds.
-- Counters are increments since the previous sample (any window is a sum, restarts need no care);
-- dead letters are counted by reason; consumer_lag is the worker group's Kafka lag when sampled.
CREATE TABLE IF NOT EXISTS {database}.platform_health
(
    at           DateTime64(3, 'UTC'),
    worker       LowCardinality(String),
    cdrs_in      UInt64,
    cdrs_stored  UInt64,
    duplicates   UInt64,
    dead_letters Map(LowCardinality(String), UInt64),
    consumer_lag Nullable(Int64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (worker, at)
TTL toDateTime(at) + INTERVAL 90 DAY;
