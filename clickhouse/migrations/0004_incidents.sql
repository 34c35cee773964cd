-- Interconnect incidents as the detector last reported them: one row per event, the newest
-- version of each id wins (ReplacingMergeTree(version); read with FINAL). `detail` is the full
-- incident JSON (baseline, worst and current figures, causes, SIP codes, sample calls).
CREATE TABLE IF NOT EXISTS {database}.incidents
(
    id           UUID,
    version      UInt32,
    status       Enum8('open' = 1, 'resolved' = 2),
    interconnect LowCardinality(String),
    direction    Enum8('in' = 1, 'out' = 2),
    kinds        Array(LowCardinality(String)),
    severity     LowCardinality(String),
    start_time   DateTime('UTC'),
    end_time     Nullable(DateTime('UTC')),
    updated_at   DateTime('UTC'),
    lost_calls   Float64,
    detail       String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;
