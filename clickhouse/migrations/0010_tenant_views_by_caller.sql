-- Faster forms of the tenant views that missed 1 s over a month of a 3 M-call tenant
-- (docs/benchmarks.md). Same parameters and columns as in 0007. The views that ask per outside
-- number read tenant_calls_by_caller (0009), where each caller's calls are stored together in
-- time order, and group by caller instead of sorting the period by number.

-- Calls to the tenant from outside by type (definitions in 0007). Per caller, its inbound calls of
-- the look-back and the period as one time-ordered array: the previous call, the previous target
-- call (forward fill) and the short calls of the same day (runs of one day) come from the array.
CREATE OR REPLACE VIEW {database}.tenant_call_types
SQL SECURITY INVOKER AS
WITH per_caller AS (
    SELECT
        remote_number AS caller,
        arraySort(c -> c.1, groupArray((toUnixTimestamp64Milli(start_time), talk_ms,
                                        call_class = 'incoming' AND talk_ms >= {target_min_s:UInt32} * 1000))) AS inbound,
        arrayMap(c -> c.1, inbound) AS starts,
        arrayMap(s -> s >= toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')}), starts) AS asked,
        arrayPopBack(arrayPushFront(starts, 0)) AS prev_ms,
        arrayFill(t -> t > 0, arrayPopBack(arrayPushFront(arrayMap(c -> if(c.3, c.1, 0), inbound), 0))) AS prev_target_ms,
        arrayMap(c -> c.2 <= {spam_max_talk_s:UInt32} * 1000, inbound) AS short,
        arrayMap(s -> intDiv(s, 86400000), starts) AS days,
        arrayFlatten(arrayMap(day -> arrayWithConstant(length(day), arraySum(day)),
                              arraySplit((s, d, p) -> d != p, short, days, arrayPushFront(arrayPopBack(days), -1)))) AS short_that_day
    FROM {database}.tenant_calls_by_caller
    WHERE tenant = {tenant:String} AND call_class IN ('incoming', 'missed')
      AND start_time < {to:DateTime64(3, 'UTC')}
      AND start_time >= if({unique_days:UInt32} = 0 OR {sales_cycle_days:UInt32} = 0, toDateTime64(0, 3, 'UTC'),
                           {from:DateTime64(3, 'UTC')} - toIntervalDay(greatest({unique_days:UInt32}, {sales_cycle_days:UInt32})))
    GROUP BY caller
    HAVING max(start_time) >= {from:DateTime64(3, 'UTC')}
)
SELECT
    sum(arrayCount(a -> a, asked)) AS calls,
    sum(arrayCount((a, s, p) -> a AND (p = 0 OR ({unique_days:UInt32} > 0 AND s - p > {unique_days:UInt32} * 86400000)),
                   asked, starts, prev_ms)) AS unique,
    calls - unique AS repeat,
    sum(arrayCount((a, c) -> a AND c.3, asked, inbound)) AS target,
    sum(arrayCount((a, c, p) -> a AND c.3 AND (p = 0 OR ({sales_cycle_days:UInt32} > 0 AND c.1 - p > {sales_cycle_days:UInt32} * 86400000)),
                   asked, inbound, prev_target_ms)) AS unique_target,
    sumIf(arrayCount(a -> a, asked), has({callback_numbers:Array(String)}, caller)) AS callback,
    sum(arrayCount((a, s, n) -> a AND s AND n >= {spam_calls_per_day:UInt32}, asked, short, short_that_day)) AS spam
FROM per_caller;

-- Outside numbers the tenant talks with most.
CREATE OR REPLACE VIEW {database}.tenant_top_numbers
SQL SECURITY INVOKER AS
SELECT
    remote_number AS number,
    count() AS calls,
    countIf(call_direction != '') AS calls_out,
    calls - calls_out AS calls_in,
    countIf(talk_ms > 0) AS answered,
    sum(talk_ms) / 1000 AS talk_s,
    sum(ifNull(cost, 0)) AS cost,
    max(start_time) AS last_call
FROM {database}.tenant_calls_by_caller
WHERE tenant = {tenant:String} AND call_class != 'internal' AND remote_number != ''
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
GROUP BY number;

-- Missed calls nobody returned within callback_hours: per caller, its missed calls and the sorted
-- times of its contacts (outgoing calls to it, answered calls from it); each missed call looks up
-- the first contact after it. No join and no sort of the period.
CREATE OR REPLACE VIEW {database}.tenant_missed_not_called_back
SQL SECURITY INVOKER AS
WITH per_caller AS (
    SELECT
        remote_number,
        groupArrayIf((start_time, tenant_number, extension, wait_ms),
                     call_class = 'missed' AND start_time < {to:DateTime64(3, 'UTC')}) AS missed,
        arraySort(groupArrayIf(start_time, call_class != 'missed')) AS contacts
    FROM {database}.tenant_calls_by_caller
    WHERE tenant = {tenant:String} AND call_class IN ('missed', 'outgoing', 'incoming')
      AND start_time >= {from:DateTime64(3, 'UTC')}
      AND start_time <= {to:DateTime64(3, 'UTC')} + toIntervalHour({callback_hours:UInt32})
    GROUP BY remote_number
    HAVING notEmpty(missed)
)
SELECT
    m.1 AS missed_at,
    remote_number AS caller,
    m.2 AS number,
    m.3 AS extension,
    m.4 / 1000 AS waited_s,
    -- the first contact after the miss (too late), if any; contacts are sorted, so the scan stops there
    arrayFirst(t -> t > missed_at, contacts) AS first_after,
    if(first_after > missed_at, first_after, NULL) AS next_contact
FROM per_caller ARRAY JOIN missed AS m
WHERE next_contact IS NULL OR next_contact > missed_at + toIntervalHour({callback_hours:UInt32});

-- Channel load (definitions in 0007) without ordering the period's events in one sorted pass:
-- each call becomes a piece in every interval it overlaps, and each interval sorts only its own
-- starts and ends, starting from the calls already up when it began. Intervals are independent,
-- so they spread over the cores (about twice as fast as the single window over a month).
CREATE OR REPLACE VIEW {database}.tenant_channel_load
SQL SECURITY INVOKER AS
WITH
    toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')}) AS from_ms,
    toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')}) AS to_ms,
    {bucket_s:UInt32} * 1000 AS bucket_ms,
calls AS (
    SELECT greatest(toUnixTimestamp64Milli(start_time), from_ms) AS s, least(toUnixTimestamp64Milli(end_time), to_ms) AS e
    FROM {database}.tenant_calls
    WHERE tenant = {tenant:String} AND call_class != 'internal'
      -- calls longer than a day are not telephony traffic; the bound keeps the read to the period
      AND start_time >= {from:DateTime64(3, 'UTC')} - toIntervalDay(1) AND start_time < {to:DateTime64(3, 'UTC')}
      AND end_time > {from:DateTime64(3, 'UTC')}
),
-- a call in each interval it overlaps (a zero-length call in the one it starts in)
pieces AS (
    SELECT s, e, toInt64(arrayJoin(range(intDiv(s - from_ms, bucket_ms), greatest(intDiv(s - from_ms, bucket_ms), intDiv(e - 1 - from_ms, bucket_ms)) + 1))) AS k,
           from_ms + k * bucket_ms AS b0
    FROM calls
    -- every interval once with nothing in it, so intervals without calls are rows too
    UNION ALL
    SELECT toInt64(0) AS s, toInt64(0) AS e, toInt64(arrayJoin(range(toUInt64(intDiv(to_ms - from_ms + bucket_ms - 1, bucket_ms))))) AS k, from_ms + k * bucket_ms AS b0
),
buckets AS (
    SELECT
        k,
        countIf(s >= b0) AS calls,
        -- the level when the interval begins (calls already up), then its starts and ends in time
        -- order, ends first at the same instant: back-to-back calls do not overlap
        countIf(s < b0 AND e > b0) AS carried,
        arraySort(arrayConcat(groupArrayIf((s, toInt8(1)), s >= b0 AND e > s),
                              groupArrayIf((e, toInt8(-1)), e < b0 + bucket_ms AND e > s))) AS events,
        carried + greatest(0, arrayMax(arrayPushFront(arrayCumSum(arrayMap(x -> toInt64(x.2), events)), 0))) AS peak_concurrent,
        sum(greatest(0, least(e, b0 + bucket_ms) - greatest(s, b0))) / least(to_ms - b0, bucket_ms) AS erlangs
    FROM pieces
    GROUP BY k, b0
)
SELECT
    {from:DateTime64(3, 'UTC')} + toIntervalSecond(k * {bucket_s:UInt32}) AS bucket, calls, peak_concurrent, erlangs,
    arrayFold((b, n) -> erlangs * b / (n + erlangs * b), range(1, {channels:UInt32} + 1), 1.0) AS blocking,
    arrayFold((acc, n) -> if(acc.2 > 0, acc, (erlangs * acc.1 / (n + erlangs * acc.1),
                                              if(erlangs * acc.1 / (n + erlangs * acc.1) <= {gos:Float64}, toUInt32(n), toUInt32(0)))),
              range(1, toUInt32(ceil(erlangs)) * 3 + 20), (1.0, toUInt32(0))).2 AS channels_needed
FROM buckets
ORDER BY bucket;
