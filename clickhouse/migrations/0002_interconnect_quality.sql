-- Interconnect quality (ITU-T E.411 / E.425) per interconnect, direction and minute of seizure,
-- as mergeable aggregates: any window (5 min … a month) is a sum over minutes, so NOC queries read
-- thousands of rows, not millions of CDRs. Fed by a materialised view on cdr: the writer inserts
-- each cdr_id once (it skips ids already stored), so the view sees each seizure once.
--
-- A seizure is a final record (stop or attempt; 'start' records are interim) on an interconnect.
-- effective = answered + user-caused failures (busy, no answer, rejected): the NER numerator.
-- ACD and short calls (< 10 s) use conversation time, answer → end (billable_ms), not ring time.
-- PDD histogram: 100 ms buckets, key = lower edge.
CREATE TABLE IF NOT EXISTS {database}.interconnect_minute
(
    interconnect      LowCardinality(String),
    direction         Enum8('in' = 1, 'out' = 2),
    minute            DateTime('UTC'),
    seizures          SimpleAggregateFunction(sum, UInt64),
    answered          SimpleAggregateFunction(sum, UInt64),
    effective         SimpleAggregateFunction(sum, UInt64),
    network_failures  SimpleAggregateFunction(sum, UInt64),
    short_calls       SimpleAggregateFunction(sum, UInt64),
    answered_ms       SimpleAggregateFunction(sum, UInt64),
    pdd_calls         SimpleAggregateFunction(sum, UInt64),
    pdd_ms_sum        SimpleAggregateFunction(sum, UInt64),
    pdd_histogram     SimpleAggregateFunction(sumMap, Map(UInt32, UInt64)),
    causes            SimpleAggregateFunction(sumMap, Map(UInt16, UInt64)),
    sip_codes         SimpleAggregateFunction(sumMap, Map(UInt16, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (interconnect, direction, minute)
TTL minute + INTERVAL {retention_days} DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.interconnect_minute_mv TO {database}.interconnect_minute AS
SELECT
    interconnect,
    assumeNotNull(direction) AS direction,
    toStartOfMinute(start_time) AS minute,
    count() AS seizures,
    countIf(cause_class = 'answered') AS answered,
    countIf(cause_class IN ('answered', 'user')) AS effective,
    countIf(cause_class = 'network') AS network_failures,
    countIf(cause_class = 'answered' AND billable_ms < 10000) AS short_calls,
    sumIf(billable_ms, cause_class = 'answered') AS answered_ms,
    countIf(pdd_ms IS NOT NULL) AS pdd_calls,
    sum(ifNull(pdd_ms, 0)) AS pdd_ms_sum,
    sumMapIf(map(intDiv(assumeNotNull(pdd_ms), 100) * 100, toUInt64(1)), pdd_ms IS NOT NULL) AS pdd_histogram,
    sumMapIf(map(assumeNotNull(q850_cause), toUInt64(1)), q850_cause IS NOT NULL) AS causes,
    sumMapIf(map(assumeNotNull(sip_code), toUInt64(1)), sip_code IS NOT NULL) AS sip_codes
FROM {database}.cdr
WHERE interconnect != '' AND direction IS NOT NULL AND record_kind IN ('stop', 'attempt')
GROUP BY interconnect, direction, minute;

-- The one place the ratios are computed: quality per interconnect and direction in [from, to),
-- in buckets of bucket_s seconds (0 = the whole range as one bucket, starting at `from`).
-- Ratios are NULL where their denominator is 0. pdd_p95_ms is the upper edge of the 100 ms bucket
-- holding the nearest-rank 95th percentile.
CREATE VIEW IF NOT EXISTS {database}.interconnect_quality AS
SELECT
    interconnect,
    direction,
    if({bucket_s:UInt32} = 0, {from:DateTime}, toStartOfInterval(minute, toIntervalSecond(greatest({bucket_s:UInt32}, 1)), 'UTC')) AS bucket,
    sum(seizures) AS seizures,
    sum(answered) AS answered,
    sum(effective) AS effective,
    sum(network_failures) AS network_failures,
    sum(short_calls) AS short_calls,
    if(seizures = 0, NULL, answered / seizures) AS asr,
    if(seizures = 0, NULL, effective / seizures) AS ner,
    if(seizures = 0, NULL, network_failures / seizures) AS network_share,
    if(answered = 0, NULL, sum(answered_ms) / answered / 1000) AS acd_s,
    sum(pdd_calls) AS pdd_calls,
    if(pdd_calls = 0, NULL, sum(pdd_ms_sum) / pdd_calls) AS pdd_avg_ms,
    sumMap(pdd_histogram) AS pdd_hist,
    if(pdd_calls = 0, NULL,
       mapKeys(pdd_hist)[arrayFirstIndex(c -> c >= ceil(0.95 * pdd_calls), arrayCumSum(mapValues(pdd_hist)))] + 100) AS pdd_p95_ms,
    sumMap(causes) AS causes,
    sumMap(sip_codes) AS sip_codes
FROM {database}.interconnect_minute
WHERE minute >= {from:DateTime} AND minute < {to:DateTime}
GROUP BY interconnect, direction, bucket;

-- NOC: the current 5, 15 and 60 minutes (by seizure minute, the running minute included).
CREATE VIEW IF NOT EXISTS {database}.interconnect_quality_now AS
SELECT 5 AS window_minutes, * FROM {database}.interconnect_quality(from = now() - 300, to = now() + 60, bucket_s = 0)
UNION ALL
SELECT 15, * FROM {database}.interconnect_quality(from = now() - 900, to = now() + 60, bucket_s = 0)
UNION ALL
SELECT 60, * FROM {database}.interconnect_quality(from = now() - 3600, to = now() + 60, bucket_s = 0);

-- NOC: daily trend per interconnect and direction (UTC days, last 90 days).
CREATE VIEW IF NOT EXISTS {database}.interconnect_quality_daily AS
SELECT * FROM {database}.interconnect_quality(from = toDateTime(today() - 90), to = now() + 60, bucket_s = 86400);
