-- Tenant views: what a tenant asks of its calls. Every view is parameterised and takes the
-- tenant and a period [from, to) — there is no way to call one without naming the tenant:
--   SELECT * FROM cdrflow.tenant_summary(tenant = 'acme', from = '2026-11-01', to = '2026-12-01')
-- On a real server a tenant's user additionally sits behind a row policy on tenant_calls and
-- tenant_saved_analyses (views run with the caller's rights), so naming another tenant returns
-- nothing; SQL SECURITY INVOKER says so explicitly (a DEFINER view would read past the policy).
-- Rules that customers tune (call types, callback window, channel sizing) are
-- parameters too; cdrflow passes the defaults from Settings.call_types.

-- Calls by class, answered, talk and waiting time, cost.
CREATE VIEW IF NOT EXISTS {database}.tenant_summary
SQL SECURITY INVOKER AS
SELECT
    count() AS calls,
    countIf(call_class = 'incoming') AS incoming,
    countIf(call_class = 'missed') AS missed,
    countIf(call_class = 'outgoing') AS outgoing,
    countIf(call_class = 'internal') AS internal,
    countIf(call_class = 'forwarded') AS forwarded,
    countIf(answer_time IS NOT NULL AND call_class != 'missed') AS answered,
    sum(talk_ms) / 1000 AS talk_s,
    if(answered = 0, 0, talk_s / answered) AS avg_talk_s,
    -- what callers waited: until a person answered, or until they gave up
    avgIf(wait_ms, call_class = 'incoming') / 1000 AS avg_wait_answered_s,
    avgIf(wait_ms, call_class = 'missed') / 1000 AS avg_wait_missed_s,
    sum(ifNull(tenant_calls.cost, 0)) AS cost,
    -- placed, answered calls no tariff line matched
    countIf(tenant_calls.cost IS NULL AND call_direction != '' AND talk_ms > 0) AS unrated
FROM {database}.tenant_calls
WHERE tenant = {tenant:String}
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')};

-- Calls per interval and class: the trend behind the summary.
CREATE VIEW IF NOT EXISTS {database}.tenant_trend
SQL SECURITY INVOKER AS
SELECT
    toStartOfInterval(start_time, toIntervalSecond({bucket_s:UInt32})) AS bucket,
    count() AS calls,
    countIf(call_class = 'incoming') AS incoming,
    countIf(call_class = 'missed') AS missed,
    countIf(call_class = 'outgoing') AS outgoing,
    sum(talk_ms) / 1000 AS talk_s,
    sum(ifNull(cost, 0)) AS cost
FROM {database}.tenant_calls
WHERE tenant = {tenant:String}
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
GROUP BY bucket
ORDER BY bucket;

-- Calls to the tenant from outside (incoming + missed) by type. Types overlap: unique vs repeat
-- partition the calls; target, unique-target, callback and spam are flags on top.
--   unique         the caller had not called for unique_days (0: never before)
--   target         answered and at least target_min_s long
--   unique_target  a target call with no earlier target call from the caller for sales_cycle_days (0: ever)
--   callback       placed by the web-callback widget (its caller IDs are in callback_numbers)
--   spam           the caller called spam_calls_per_day times or more that day with calls of at most
--                  spam_max_talk_s, and this is one of them
CREATE VIEW IF NOT EXISTS {database}.tenant_call_types
SQL SECURITY INVOKER AS
WITH calls AS (
    SELECT
        remote_number AS caller,
        start_time,
        toUnixTimestamp64Milli(start_time) AS start_ms,
        talk_ms,
        call_class = 'incoming' AND talk_ms >= {target_min_s:UInt32} * 1000 AS is_target
    FROM {database}.tenant_calls
    WHERE tenant = {tenant:String} AND call_class IN ('incoming', 'missed')
      AND start_time < {to:DateTime64(3, 'UTC')}
      -- look back far enough to know each caller's previous call
      AND start_time >= if({unique_days:UInt32} = 0 OR {sales_cycle_days:UInt32} = 0, toDateTime64(0, 3, 'UTC'),
                           {from:DateTime64(3, 'UTC')} - toIntervalDay(greatest({unique_days:UInt32}, {sales_cycle_days:UInt32})))
),
marked AS (
    SELECT
        caller, start_time, start_ms, talk_ms, is_target,
        max(start_ms) OVER earlier AS prev_ms,
        max(if(is_target, start_ms, 0)) OVER earlier AS prev_target_ms,
        countIf(talk_ms <= {spam_max_talk_s:UInt32} * 1000) OVER (PARTITION BY caller, toDate(start_time)) AS short_calls_that_day
    FROM calls
    WINDOW earlier AS (PARTITION BY caller ORDER BY start_ms ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
)
SELECT
    count() AS calls,
    countIf(prev_ms = 0 OR ({unique_days:UInt32} > 0 AND start_ms - prev_ms > {unique_days:UInt32} * 86400000)) AS unique,
    calls - unique AS repeat,
    countIf(is_target) AS target,
    countIf(is_target AND (prev_target_ms = 0
            OR ({sales_cycle_days:UInt32} > 0 AND start_ms - prev_target_ms > {sales_cycle_days:UInt32} * 86400000))) AS unique_target,
    countIf(has({callback_numbers:Array(String)}, caller)) AS callback,
    countIf(short_calls_that_day >= {spam_calls_per_day:UInt32} AND talk_ms <= {spam_max_talk_s:UInt32} * 1000) AS spam
FROM marked
WHERE start_time >= {from:DateTime64(3, 'UTC')};

-- Calls the tenant placed to outside numbers (outgoing, and diversions its PBX re-originated)
-- by destination (the tariff line's name, else the region) and direction from the tenant's home.
-- Top destinations: add ORDER BY cost DESC LIMIT n.
CREATE VIEW IF NOT EXISTS {database}.tenant_destinations
SQL SECURITY INVOKER AS
SELECT
    destination,
    call_direction AS direction,
    count() AS calls,
    countIf(talk_ms > 0) AS answered,
    sum(talk_ms) / 1000 AS talk_s,
    sum(ifNull(cost, 0)) AS cost
FROM {database}.tenant_calls
WHERE tenant = {tenant:String} AND call_direction != ''
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
GROUP BY destination, direction;

-- The same calls by direction alone.
CREATE VIEW IF NOT EXISTS {database}.tenant_directions
SQL SECURITY INVOKER AS
SELECT direction, sum(calls) AS calls, sum(answered) AS answered, sum(talk_s) AS talk_s, sum(cost) AS cost
FROM {database}.tenant_destinations(tenant = {tenant:String}, from = {from:DateTime64(3, 'UTC')}, to = {to:DateTime64(3, 'UTC')})
GROUP BY direction;

-- Outside numbers the tenant talks with most (customers, suppliers, "calls home"): add ORDER BY … LIMIT n.
CREATE VIEW IF NOT EXISTS {database}.tenant_top_numbers
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
FROM {database}.tenant_calls
WHERE tenant = {tenant:String} AND call_class != 'internal' AND remote_number != ''
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
GROUP BY number;

-- Per number of the tenant that was called (a tracking number = an advertising channel).
CREATE VIEW IF NOT EXISTS {database}.tenant_incoming_numbers
SQL SECURITY INVOKER AS
SELECT
    tenant_number AS number,
    count() AS calls,
    countIf(call_class = 'incoming') AS answered,
    countIf(call_class = 'missed') AS missed,
    uniqExact(remote_number) AS callers,
    sum(talk_ms) / 1000 AS talk_s,
    avgIf(wait_ms, call_class = 'incoming') / 1000 AS avg_wait_answered_s
FROM {database}.tenant_calls
WHERE tenant = {tenant:String} AND call_class IN ('incoming', 'missed')
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
GROUP BY number;

-- Employees: calls made and received, missed, time on the phone, cost, and load — the share of
-- the period spent talking.
CREATE VIEW IF NOT EXISTS {database}.tenant_extensions
SQL SECURITY INVOKER AS
SELECT
    extension,
    countIf(call_class = 'outgoing') AS outgoing,
    countIf(call_class = 'incoming') AS incoming,
    countIf(call_class = 'missed') AS missed,
    countIf(call_class = 'internal') AS internal,
    sum(talk_ms) / 1000 AS talk_s,
    sum(ifNull(cost, 0)) AS cost,
    sum(talk_ms) / dateDiff('millisecond', {from:DateTime64(3, 'UTC')}, {to:DateTime64(3, 'UTC')}) AS load
FROM {database}.tenant_calls
WHERE tenant = {tenant:String} AND extension != ''
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
GROUP BY extension;

-- Missed calls nobody returned: no outgoing call to the number and no answered call from it
-- within callback_hours after the miss. One row per such missed call. One ordered pass per
-- number finds the next contact after each call (an ASOF join did the same; neither is under
-- 1 s for a month of a 3 M-call tenant, see docs/benchmarks.md).
CREATE VIEW IF NOT EXISTS {database}.tenant_missed_not_called_back
SQL SECURITY INVOKER AS
WITH marked AS (
    SELECT start_time, remote_number, tenant_number, extension, wait_ms, call_class,
           min(if(call_class = 'missed', NULL, start_time)) OVER (PARTITION BY remote_number ORDER BY start_time
                                                                  ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS next_contact
    FROM {database}.tenant_calls
    WHERE tenant = {tenant:String} AND call_class IN ('missed', 'outgoing', 'incoming') AND remote_number != ''
      AND start_time >= {from:DateTime64(3, 'UTC')}
      AND start_time <= {to:DateTime64(3, 'UTC')} + toIntervalHour({callback_hours:UInt32})
)
SELECT
    start_time AS missed_at,
    remote_number AS caller,
    tenant_number AS number,
    extension,
    wait_ms / 1000 AS waited_s,
    next_contact   -- the first contact after the miss (too late), if any
FROM marked
WHERE call_class = 'missed' AND start_time < {to:DateTime64(3, 'UTC')}
  AND (next_contact IS NULL OR next_contact > start_time + toIntervalHour({callback_hours:UInt32}));

-- Channel load per interval: peak and average simultaneous calls (from start/end), the Erlang B
-- blocking of that traffic on the tenant's channels and the channels a target GoS needs.
-- Average concurrency over an interval is its traffic in Erlangs. Internal calls use no trunk.
-- Levels come from one ordered pass over +1/−1 events; a 0-event at every interval start carries
-- the level into intervals without events. Erlang B is the stable recursion of schemas/erlang.py.
CREATE VIEW IF NOT EXISTS {database}.tenant_channel_load
SQL SECURITY INVOKER AS
WITH calls AS (
    SELECT greatest(start_time, {from:DateTime64(3, 'UTC')}) AS s, least(end_time, {to:DateTime64(3, 'UTC')}) AS e
    FROM {database}.tenant_calls
    WHERE tenant = {tenant:String} AND call_class != 'internal'
      -- calls longer than a day are not telephony traffic; the bound keeps the read to the period
      AND start_time >= {from:DateTime64(3, 'UTC')} - toIntervalDay(1) AND start_time < {to:DateTime64(3, 'UTC')}
      AND end_time > {from:DateTime64(3, 'UTC')}
),
events AS (
    SELECT s AS t, toInt8(1) AS d FROM calls
    UNION ALL SELECT e AS t, toInt8(-1) AS d FROM calls
    -- arrayJoin, not numbers(): a table function needs a grant tenant users do not get
    UNION ALL SELECT {from:DateTime64(3, 'UTC')} + toIntervalSecond(arrayJoin(range(toUInt32(
            ceil(dateDiff('second', {from:DateTime64(3, 'UTC')}, {to:DateTime64(3, 'UTC')}) / {bucket_s:UInt32})))) * {bucket_s:UInt32}) AS t,
        toInt8(0) AS d
    UNION ALL SELECT {to:DateTime64(3, 'UTC')} AS t, toInt8(0) AS d
),
levels AS (
    SELECT t, d,
           -- ends before starts at the same instant: back-to-back calls do not overlap
           sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS level,
           leadInFrame(t) OVER (ORDER BY t, d ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_t
    FROM events
),
buckets AS (
    SELECT
        {from:DateTime64(3, 'UTC')} + toIntervalSecond(intDiv(dateDiff('second', {from:DateTime64(3, 'UTC')}, t), {bucket_s:UInt32}) * {bucket_s:UInt32}) AS bucket,
        countIf(d = 1) AS calls,
        max(level) AS peak_concurrent,
        sum(level * dateDiff('millisecond', t, next_t)) / (least(dateDiff('millisecond', bucket, {to:DateTime64(3, 'UTC')}), {bucket_s:UInt32} * 1000)) AS erlangs
    FROM levels
    WHERE t < {to:DateTime64(3, 'UTC')}
    GROUP BY bucket
)
SELECT
    bucket, calls, peak_concurrent, erlangs,
    arrayFold((b, n) -> erlangs * b / (n + erlangs * b), range(1, {channels:UInt32} + 1), 1.0) AS blocking,
    arrayFold((acc, n) -> if(acc.2 > 0, acc, (erlangs * acc.1 / (n + erlangs * acc.1),
                                              if(erlangs * acc.1 / (n + erlangs * acc.1) <= {gos:Float64}, toUInt32(n), toUInt32(0)))),
              range(1, toUInt32(ceil(erlangs)) * 3 + 20), (1.0, toUInt32(0))).2 AS channels_needed
FROM buckets
ORDER BY bucket;

-- A saved analysis re-run: the calls matching a stored named filter (number prefix on either
-- side, optional call classes), over any period.
CREATE VIEW IF NOT EXISTS {database}.tenant_notebook
SQL SECURITY INVOKER AS
WITH saved AS (
    SELECT argMax(number_prefix, saved_at) AS prefix, argMax(call_classes, saved_at) AS classes, count() AS found
    FROM {database}.tenant_saved_analyses
    WHERE tenant = {tenant:String} AND name = {name:String}
)
SELECT start_time, call_class, tenant_number, remote_number, extension, talk_ms / 1000 AS talk_s,
       wait_ms / 1000 AS wait_s, call_direction, destination, cost
FROM {database}.tenant_calls
WHERE tenant = {tenant:String}
  AND start_time >= {from:DateTime64(3, 'UTC')} AND start_time < {to:DateTime64(3, 'UTC')}
  AND (SELECT found FROM saved) > 0
  AND (startsWith(remote_number, (SELECT prefix FROM saved)) OR startsWith(tenant_number, (SELECT prefix FROM saved)))
  AND (empty((SELECT classes FROM saved)) OR has((SELECT classes FROM saved), call_class))
ORDER BY start_time;
