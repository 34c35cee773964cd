-- trunk_load (0013) as before, with each interval's starts and ends held as one UInt32 each
-- (ms into the interval × 2, + 1 for a start: an end sorts before a start at the same instant, as
-- before) instead of a (ms, ±1) tuple of 9 bytes, and the running count in Int8 steps. The alarms'
-- measurement (clickhouse/queries/alarm_trunk_minutes.sql) groups every call of the minutes it
-- judges plus UTILISATION_MINUTES before them; on the simulator's traffic at ~600 calls/s over 7
-- minutes that query's memory went from 65 to 42 MB (docs/benchmarks.md, 2026-12-05). Same rows
-- out, but an interval (bucket_s) is 24 days at most.
CREATE OR REPLACE VIEW {database}.trunk_load
SQL SECURITY INVOKER AS
WITH
    toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')}) AS from_ms,
    toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')}) AS to_ms,
    least({bucket_s:UInt32}, 2073600) * 1000 AS bucket_ms,      -- 24 days at most: ms × 2 within UInt32
    (SELECT argMax(trunk_channels, configured_at) FROM {database}.noc_config) AS capacity,
pieces AS (
    SELECT trunk, greatest(start_ms, from_ms) AS s, least(end_ms, to_ms) AS e,
           toInt64(arrayJoin(range(intDiv(s - from_ms, bucket_ms),
                                   greatest(intDiv(s - from_ms, bucket_ms), intDiv(e - 1 - from_ms, bucket_ms)) + 1))) AS k,
           from_ms + k * bucket_ms AS b0
    FROM (SELECT start_ms, end_ms, arrayJoin(arrayFilter(t -> t != '', arrayDistinct([ingress_trunk, egress_trunk]))) AS trunk
          FROM {database}.call_spans(from = {from:DateTime64(3, 'UTC')}, to = {to:DateTime64(3, 'UTC')}))
    WHERE start_ms < to_ms AND end_ms > from_ms
),
buckets AS (
    SELECT trunk, k,
           countIf(s < b0 AND e > b0) AS carried,
           -- a start or an end inside the interval as one number: ms into it × 2, + 1 for a start
           arraySort(arrayConcat(groupArrayIf(toUInt32((s - b0) * 2 + 1), s >= b0 AND e > s),
                                 groupArrayIf(toUInt32((e - b0) * 2), e < b0 + bucket_ms AND e > s))) AS events,
           carried + greatest(0, arrayMax(arrayCumSum(arrayMap(x -> if(x % 2 = 1, toInt8(1), toInt8(-1)), events))))
               AS peak_concurrent,
           sum(greatest(0, least(e, b0 + bucket_ms) - greatest(s, b0))) / least(to_ms - b0, bucket_ms) AS erlangs
    FROM pieces
    GROUP BY trunk, k, b0
)
SELECT
    trunk, fromUnixTimestamp64Milli(from_ms + k * bucket_ms) AS bucket, peak_concurrent, erlangs,
    toUInt32(ifNull(capacity[trunk], 0)) AS channels,
    if(channels = 0, NULL, peak_concurrent / channels) AS utilisation,
    if(channels = 0, NULL, arrayFold((b, n) -> erlangs * b / (n + erlangs * b), range(1, channels + 1), 1.0)) AS blocking
FROM buckets
ORDER BY trunk, bucket;
