-- Raw CDRs, one row per record, as producers and enrichment wrote them.
-- Times travel as epoch milliseconds (EPHEMERAL inputs) and are stored as DateTime64(3, 'UTC').
-- ReplacingMergeTree on a key that ends in cdr_id collapses any duplicate that slipped past the
-- writer's pre-insert check (the writer already skips cdr_ids it finds stored).
CREATE TABLE IF NOT EXISTS {database}.cdr
(
    cdr_id               UUID,
    source               LowCardinality(String),
    source_format        LowCardinality(String),
    native_id            String,
    call_id              String,
    correlation_id       Nullable(String),
    record_kind          Enum8('stop' = 1, 'attempt' = 2, 'start' = 3),

    start_ms             Int64 EPHEMERAL,
    answer_ms            Nullable(Int64) EPHEMERAL,
    end_ms               Int64 EPHEMERAL,
    start_time           DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(start_ms),
    answer_time          Nullable(DateTime64(3, 'UTC')) DEFAULT fromUnixTimestamp64Milli(answer_ms),
    end_time             DateTime64(3, 'UTC') DEFAULT fromUnixTimestamp64Milli(end_ms),
    duration_ms          UInt64,
    billable_ms          UInt64,

    calling_number       String,
    called_number        String,
    calling_e164         Nullable(String),
    called_e164          Nullable(String),

    ingress_trunk        LowCardinality(String),
    egress_trunk         LowCardinality(String),
    interconnect         LowCardinality(String),
    direction            Nullable(Enum8('in' = 1, 'out' = 2)),

    q850_cause           Nullable(UInt16),
    sip_code             Nullable(UInt16),
    cause_class          LowCardinality(String),
    disconnect_initiator LowCardinality(String),
    pdd_ms               Nullable(UInt32),

    tenant               LowCardinality(String),
    extension            String,

    source_file          String,
    source_offset        UInt64,
    stored_at            DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX cdr_id_bloom cdr_id TYPE bloom_filter GRANULARITY 4,
    INDEX interconnect_set interconnect TYPE set(256) GRANULARITY 4,
    INDEX tenant_set tenant TYPE set(1024) GRANULARITY 4
)
ENGINE = ReplacingMergeTree(stored_at)
PARTITION BY toYYYYMMDD(start_time)
ORDER BY (toStartOfHour(start_time), source, cdr_id)
TTL toDateTime(start_time) + INTERVAL {retention_days} DAY;
