-- Release candidates over a million numbers in well under a second: a daily checkpoint of the
-- quarantine counts over the window's closed days, plus today's hits (docs/benchmarks.md).
-- The quarantine rule keeps one definition: number_quarantine_counts (who is in quarantine since
-- when, which days count) and number_quarantine_verdicts (the verdict). The checkpoint is built
-- from number_quarantine_counts itself, and every number whose checkpointed counts could be stale
-- is counted again by it. number_quarantine keeps its parameters and stays the exact reference;
-- its 0003 body moves into number_quarantine_counts (0003 itself stays as it ran: append-only).

-- Which (number, day) rows reached number_hits_daily when, for days already over by the server
-- clock (an hour ahead, the longest commit lag quarantine_checkpoint_commit_lag_s may be set to).
-- A row here that arrived after a checkpoint was read means a late hit the checkpoint may lack.
CREATE TABLE IF NOT EXISTS {database}.number_hits_arrivals
(
    number  UInt64,
    day     Date,
    arrived DateTime64(3, 'UTC')    -- to the millisecond, as a checkpoint's taken_at
)
ENGINE = MergeTree
ORDER BY (arrived, number)
TTL toDateTime(arrived) + INTERVAL 3 DAY;

-- Fed from the day table (not from cdr): every row written there, by any path, is seen here.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.number_hits_arrivals_mv TO {database}.number_hits_arrivals AS
SELECT number, day, now64(3, 'UTC') AS arrived
FROM {database}.number_hits_daily
WHERE day < toDate(now('UTC') + INTERVAL 1 HOUR)
GROUP BY number, day;

-- Per checkpoint, per number in quarantine at its as_of: the counts of number_quarantine_counts
-- over the window's days before `day` (the day the checkpoint serves).
CREATE TABLE IF NOT EXISTS {database}.number_quarantine_checkpoint
(
    day              Date,
    window_days      UInt32,
    taken_at         DateTime64(3, 'UTC'),
    number           UInt64,
    tenant           LowCardinality(String),
    quarantine_since DateTime64(3, 'UTC'),
    calls            UInt64,
    answered         UInt64,
    last_call_day    Date
)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (window_days, taken_at, number)
TTL toDateTime(taken_at) + INTERVAL 3 DAY;

-- One row per finished checkpoint, written after its rows: a half-built one is never read.
-- taken_at is the server time before the build read anything, as_of the moment of its statuses,
-- recount_since = taken_at less the commit lag: rows inserted since may be missing from it.
CREATE TABLE IF NOT EXISTS {database}.number_quarantine_checkpoints
(
    day         Date,
    window_days UInt32,
    taken_at    DateTime64(3, 'UTC'),
    as_of       DateTime64(3, 'UTC'),
    recount_since DateTime64(3, 'UTC'),
    numbers     UInt64,
    build_s     Float64
)
ENGINE = MergeTree
ORDER BY (day, window_days, taken_at)
TTL toDateTime(taken_at) + INTERVAL 3 DAY;

-- The checkpoint a question as of `as_of` may use: the newest for its day and window, none when
-- use_checkpoint = 0. Only one taken once its day had begun (a hit of the day before that arrives
-- later must be in number_hits_arrivals) and less than 2 days ago (so whatever arrived since it
-- is still there: arrivals are kept 3 days).
CREATE OR REPLACE VIEW {database}.number_quarantine_checkpoint_in_use AS
SELECT taken_at, as_of, recount_since
FROM {database}.number_quarantine_checkpoints
WHERE {use_checkpoint:UInt8} = 1
  AND day = toDate({as_of:DateTime64(3, 'UTC')}) AND window_days = {window_days:UInt32}
  AND taken_at >= toDateTime64(day, 3, 'UTC') AND taken_at >= now64(3, 'UTC') - INTERVAL 2 DAY
ORDER BY taken_at DESC
LIMIT 1;

-- Numbers whose checkpointed counts may not hold as of `as_of`: a status change between the
-- checkpoint's moment and as_of, a status row imported since the checkpoint was read, or a hit of
-- a closed day in the window that arrived since. None without a checkpoint to use.
CREATE OR REPLACE VIEW {database}.number_quarantine_stale AS
WITH (SELECT max(recount_since) FROM {database}.number_quarantine_checkpoint_in_use(
          as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32}, use_checkpoint = {use_checkpoint:UInt8})) AS recount_since,
     (SELECT max(as_of) FROM {database}.number_quarantine_checkpoint_in_use(
          as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32}, use_checkpoint = {use_checkpoint:UInt8})) AS checkpoint_as_of
SELECT number
FROM {database}.number_status
WHERE recount_since > 0
  AND (imported_at >= recount_since
       OR (status_since > least(checkpoint_as_of, {as_of:DateTime64(3, 'UTC')})
           AND status_since <= greatest(checkpoint_as_of, {as_of:DateTime64(3, 'UTC')})))
UNION DISTINCT
SELECT number
FROM {database}.number_hits_arrivals
WHERE recount_since > 0 AND arrived >= recount_since
  AND day > toDate({as_of:DateTime64(3, 'UTC')}) - {window_days:UInt32} AND day < toDate({as_of:DateTime64(3, 'UTC')});

-- Per number in quarantine as of `as_of`: tenant, quarantine start, and the calls that count —
-- from the day the current quarantine began, at most window_days back, through as_of's day
-- (through the day before with through_days_ago = 1: what a checkpoint holds). With
-- use_checkpoint = 1 and a checkpoint for as_of's day and window, its numbers that are not stale
-- take its counts plus today's hits, and only the rest are counted here from the day table.
CREATE OR REPLACE VIEW {database}.number_quarantine_counts AS
WITH
    (SELECT count() FROM {database}.number_quarantine_checkpoint_in_use(
        as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32}, use_checkpoint = {use_checkpoint:UInt8}))
        = 1 AND {through_days_ago:UInt32} = 0 AS checkpointed,
    (SELECT max(taken_at) FROM {database}.number_quarantine_checkpoint_in_use(
        as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32}, use_checkpoint = {use_checkpoint:UInt8})) AS checkpoint_taken_at,
    toDate({as_of:DateTime64(3, 'UTC')}) AS today,
-- GLOBAL: on a cluster the set is built once and sent to the shards (single node: a plain IN)
stale AS (
    SELECT number FROM {database}.number_quarantine_stale(
        as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32}, use_checkpoint = {use_checkpoint:UInt8})
),
quarantined AS (
    SELECT
        number,
        arraySort(e -> e.1, groupArray((status_since, status, tenant))) AS history,
        history[-1].2 AS current_status,
        history[-1].3 AS current_tenant,
        -- the quarantine began with the first event of the trailing run of 'disconnected' ones
        history[arrayLastIndex(e -> e.2 != 'disconnected', history) + 1].1 AS quarantine_since
    FROM {database}.number_status FINAL
    WHERE status_since <= {as_of:DateTime64(3, 'UTC')} AND (NOT checkpointed OR number GLOBAL IN stale)
    GROUP BY number
    HAVING current_status = 'disconnected'
),
-- Each number's days in the window as one array, cut at the quarantine start after the join:
-- joining per number (not per number-day) keeps the join 90 times smaller.
window AS (
    SELECT number, groupArray(day) AS days, groupArray(calls) AS calls, groupArray(answered) AS answered
    FROM {database}.number_hits_daily
    WHERE day > today - {window_days:UInt32} AND day <= today - {through_days_ago:UInt32}
      AND (NOT checkpointed OR number GLOBAL IN stale)
    GROUP BY number
),
counted AS (
    SELECT q.number AS number, q.current_tenant AS tenant, q.quarantine_since AS quarantine_since,
           arrayMap(d -> d >= toDate(q.quarantine_since), w.days) AS counted,
           arraySum(arrayFilter((n, c) -> c, w.calls, counted)) AS calls,
           arraySum(arrayFilter((n, c) -> c, w.answered, counted)) AS answered,
           arrayMax(arrayFilter((d, c) -> c, w.days, counted)) AS last_call_day
    -- the array side probes, the small side is the hash table: RIGHT JOIN, not LEFT
    FROM window AS w
    RIGHT JOIN quarantined AS q ON q.number = w.number
),
-- FINAL sums a number's rows of the day as a merge of sorted parts: cheaper than a GROUP BY here
todays AS (
    SELECT number, calls, answered
    FROM {database}.number_hits_daily FINAL
    WHERE checkpointed AND day = today
),
kept AS (
    SELECT c.number AS number, c.tenant AS tenant, c.quarantine_since AS quarantine_since,
           c.calls + t.calls AS calls, c.answered + t.answered AS answered,
           if(t.calls > 0, today, c.last_call_day) AS last_call_day
    -- the checkpoint probes, today's narrow rows (one per number after FINAL) are the hash table
    FROM {database}.number_quarantine_checkpoint AS c
    LEFT ANY JOIN todays AS t ON c.number = t.number
    WHERE checkpointed AND c.day = today AND c.window_days = {window_days:UInt32}
      AND c.taken_at = checkpoint_taken_at AND c.number GLOBAL NOT IN stale
)
SELECT number, tenant, quarantine_since, calls, answered, last_call_day FROM counted
UNION ALL
SELECT number, tenant, quarantine_since, calls, answered, last_call_day FROM kept
SETTINGS join_use_nulls = 0;

-- The verdict, as of a moment (see number_quarantine in 0003): release (fewer than max_calls and
-- quarantined ≥ min_days), dirty (max_calls or more), waiting (clean so far, quarantine too short).
CREATE OR REPLACE VIEW {database}.number_quarantine_verdicts AS
SELECT
    concat('+', toString(number)) AS number,
    tenant,
    quarantine_since,
    intDiv(dateDiff('second', quarantine_since, {as_of:DateTime64(3, 'UTC')}), 86400) AS quarantine_days,
    calls,
    answered,
    if(calls = 0, NULL, last_call_day) AS last_call_day,
    multiIf(calls >= {max_calls:UInt32}, 'dirty',
            quarantine_days >= {min_days:UInt32}, 'release', 'waiting') AS verdict
FROM {database}.number_quarantine_counts(as_of = {as_of:DateTime64(3, 'UTC')}, window_days = {window_days:UInt32},
                                         through_days_ago = 0, use_checkpoint = {use_checkpoint:UInt8});

-- The exact answer from the day table alone, as before: the reference the checkpoint must equal.
CREATE OR REPLACE VIEW {database}.number_quarantine AS
SELECT *
FROM {database}.number_quarantine_verdicts(as_of = {as_of:DateTime64(3, 'UTC')}, max_calls = {max_calls:UInt32},
                                           window_days = {window_days:UInt32}, min_days = {min_days:UInt32},
                                           use_checkpoint = 0);
