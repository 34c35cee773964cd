-- The tenant views that ask per outside number, moved onto tenant_calls_by_caller (0009): each
-- caller's calls are stored together in time order, so these views group by caller as they read
-- instead of sorting the period by number. Same parameters and columns as in 0007.

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
