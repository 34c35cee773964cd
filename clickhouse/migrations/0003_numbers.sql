-- Number capacity: the inventory's status history, per-number daily hits, quarantine, call tracking.
-- Numbers are stored as UInt64 E.164 digits (no '+'): blocks are integer ranges, joins are cheap.
--
-- Capacity membership is decided at query time, not in the hits view: the hits tables count every
-- call by called number, and the views below join them to the inventory. So a block imported
-- after its calls still gets its past hits, nothing is lost for a number without an inventory row
-- yet, and an insert never waits on a join against millions of numbers.

-- The inventory as imported: one row per status change of a block (a single number is a block of one).
CREATE TABLE IF NOT EXISTS {database}.number_blocks
(
    first_number UInt64,
    last_number  UInt64,
    status       Enum8('in_service' = 1, 'disconnected' = 2, 'free' = 3),
    tenant       LowCardinality(String),
    channel      String,
    status_since DateTime64(3, 'UTC'),
    source_file  String,
    source_line  UInt32,
    imported_at  DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (first_number, status_since);

-- The same history with blocks expanded to one row per number, so views join on number alone.
-- A re-import of the same (number, status_since) replaces the earlier row: corrections win.
CREATE TABLE IF NOT EXISTS {database}.number_status
(
    number       UInt64,
    status_since DateTime64(3, 'UTC'),
    status       Enum8('in_service' = 1, 'disconnected' = 2, 'free' = 3),
    tenant       LowCardinality(String),
    channel      String,
    imported_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(imported_at)
ORDER BY (number, status_since);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.number_status_mv TO {database}.number_status AS
SELECT arrayJoin(range(first_number, last_number + 1)) AS number, status_since, status, tenant, channel, imported_at
FROM {database}.number_blocks;

-- Calls per called number and day. The cdr table's writer skips stored cdr_ids, so each CDR reaches
-- this view once. SBC 'start' records are not calls of their own (the 'stop' of the call follows).
CREATE TABLE IF NOT EXISTS {database}.number_hits_daily
(
    number   UInt64,
    day      Date,
    calls    SimpleAggregateFunction(sum, UInt64),
    answered SimpleAggregateFunction(sum, UInt64),
    callers  AggregateFunction(uniqIf, String, UInt8)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (number, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.number_hits_daily_mv TO {database}.number_hits_daily AS
SELECT
    toUInt64(substring(called_e164, 2)) AS number,
    toDate(start_time) AS day,
    count() AS calls,
    countIf(answer_time IS NOT NULL) AS answered,
    -- withheld callers (no number) are not counted as one shared caller
    uniqIfState(ifNull(calling_e164, calling_number), ifNull(calling_e164, calling_number) != '') AS callers
FROM {database}.cdr
WHERE called_e164 IS NOT NULL AND record_kind != 'start'
GROUP BY number, day;

-- When each caller first called each number: the "first-time caller" of call tracking.
CREATE TABLE IF NOT EXISTS {database}.number_callers
(
    number     UInt64,
    caller     String,
    first_call SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (number, caller);

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.number_callers_mv TO {database}.number_callers AS
SELECT toUInt64(substring(called_e164, 2)) AS number, ifNull(calling_e164, calling_number) AS caller,
       min(start_time) AS first_call
FROM {database}.cdr
WHERE called_e164 IS NOT NULL AND record_kind != 'start' AND caller != ''
GROUP BY number, caller;

-- Quarantine of disconnected numbers, as of a moment: SELECT * FROM number_quarantine(as_of=…,
-- max_calls=3, window_days=90, min_days=90). Calls count from the day the current quarantine began
-- (at most window_days back): calls while the number was still in service say nothing about the
-- sump. verdict: release (fewer than max_calls and quarantined ≥ min_days), dirty (max_calls or
-- more: keeps getting calls), waiting (clean so far, quarantine too short).
CREATE VIEW IF NOT EXISTS {database}.number_quarantine AS
WITH quarantined AS (
    SELECT
        number,
        arraySort(e -> e.1, groupArray((status_since, status, tenant))) AS history,
        history[-1].2 AS current_status,
        history[-1].3 AS current_tenant,
        -- the quarantine began with the first event of the trailing run of 'disconnected' ones
        history[arrayLastIndex(e -> e.2 != 'disconnected', history) + 1].1 AS quarantine_since
    FROM {database}.number_status FINAL
    WHERE status_since <= {as_of:DateTime64(3, 'UTC')}
    GROUP BY number
    HAVING current_status = 'disconnected'
),
-- Each number's days in the window as one array, cut at the quarantine start after the join:
-- joining per number (not per number-day) keeps the join 90 times smaller.
window AS (
    SELECT number, groupArray(day) AS days, groupArray(calls) AS calls, groupArray(answered) AS answered
    FROM {database}.number_hits_daily
    WHERE day > toDate({as_of:DateTime64(3, 'UTC')}) - {window_days:UInt32}
      AND day <= toDate({as_of:DateTime64(3, 'UTC')})
    GROUP BY number
),
hits AS (
    SELECT q.number AS number, q.current_tenant AS current_tenant, q.quarantine_since AS quarantine_since,
           arrayMap(d -> d >= toDate(q.quarantine_since), w.days) AS counted,
           arraySum(arrayFilter((n, c) -> c, w.calls, counted)) AS calls,
           arraySum(arrayFilter((n, c) -> c, w.answered, counted)) AS answered,
           arrayMax(w.days) AS last_call_day
    -- the array side probes, the small side is the hash table: RIGHT JOIN, not LEFT
    FROM window AS w
    RIGHT JOIN quarantined AS q ON q.number = w.number
)
SELECT
    concat('+', toString(number)) AS number,
    current_tenant AS tenant,
    quarantine_since,
    intDiv(dateDiff('second', quarantine_since, {as_of:DateTime64(3, 'UTC')}), 86400) AS quarantine_days,
    calls,
    answered,
    if(calls = 0, NULL, last_call_day) AS last_call_day,
    multiIf(calls >= {max_calls:UInt32}, 'dirty',
            quarantine_days >= {min_days:UInt32}, 'release', 'waiting') AS verdict
FROM hits
SETTINGS join_use_nulls = 0;

-- Call tracking: per tracking number (in service with a channel label that day) and day.
-- The label in force at the end of the day is the one a day's calls are attributed to.
CREATE VIEW IF NOT EXISTS {database}.call_tracking_daily AS
WITH daily AS (
    SELECT number, day, sum(calls) AS calls, sum(answered) AS answered, uniqIfMerge(callers) AS unique_callers
    FROM {database}.number_hits_daily
    GROUP BY number, day
),
first_calls AS (
    SELECT number, toDate(first_call) AS day, count() AS first_time_callers
    FROM (SELECT number, caller, min(first_call) AS first_call FROM {database}.number_callers GROUP BY number, caller)
    GROUP BY number, day
),
labelled AS (
    SELECT d.number AS number, d.day AS day, d.calls AS calls, d.answered AS answered,
           d.unique_callers AS unique_callers, s.status AS status, s.tenant AS tenant, s.channel AS channel
    FROM daily AS d
    ASOF INNER JOIN (SELECT * FROM {database}.number_status FINAL) AS s
        ON d.number = s.number AND toDateTime64(d.day, 3, 'UTC') + toIntervalSecond(86399) >= s.status_since
)
SELECT
    l.day AS day,
    l.tenant AS tenant,
    l.channel AS channel,
    concat('+', toString(l.number)) AS tracking_number,
    l.calls AS calls,
    l.unique_callers AS unique_callers,
    l.answered AS answered,
    f.first_time_callers AS first_time_callers
FROM labelled AS l
LEFT JOIN first_calls AS f ON l.number = f.number AND l.day = f.day
WHERE l.status = 'in_service' AND l.channel != ''
SETTINGS join_use_nulls = 0;
