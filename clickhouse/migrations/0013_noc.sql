-- NOC: calls in progress, trunk capacity (utilisation, Erlang B) and alarms.

-- The NOC part of the settings as the worker last wrote it at start (incidents/alarm_store.py):
-- trunk group → channels (Settings.trunk_channels) and the longest call (Settings.longest_call_s).
-- Views read the newest row, so Grafana sees the same capacity the alarms are judged against.
CREATE TABLE IF NOT EXISTS {database}.noc_config
(
    configured_at  DateTime64(3, 'UTC'),
    longest_call_s UInt32,
    trunk_channels Map(String, UInt32)
)
ENGINE = MergeTree
ORDER BY configured_at
TTL toDateTime(configured_at) + INTERVAL 400 DAY;

-- NOC alarms (utilisation, long calls, premium-prefix surges) as the alarms agent last reported
-- them: one row per event, the newest version of each id wins (read with FINAL). `detail` is the
-- alarm's JSON detail (figures that opened it, worst so far).
CREATE TABLE IF NOT EXISTS {database}.alarms
(
    id         UUID,
    version    UInt32,
    status     Enum8('open' = 1, 'update' = 2, 'resolved' = 3),
    kind       LowCardinality(String),
    subject    String,
    since      DateTime('UTC'),
    updated_at DateTime('UTC'),
    detail     String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id;

-- Every call that overlaps [from, to], one row per call, whichever records its format writes:
-- - an end record (stop / attempt) spans [start, end];
-- - a START (Ribbon START, Acme start, AudioCodes CALL_CONNECT: record_kind 'start') whose
--   answered end record is not stored yet spans [start, start + longest call): `open` = 1. Past
--   that it is closed as stale (`closed_stale` = 1): its STOP was lost, or the switch never writes one.
-- A START and its end record share source and call_id (one SBC leg); only an answered end record
-- closes a START, so an earlier failed route attempt with the same call_id does not.
-- Formats that write end records only (FreeSWITCH, Kamailio, Asterisk, …) show a call once it
-- has ended: a count at t is complete only when every call up at t has ended (docs/noc.md).
-- Calls are read from twice the longest call before `from`: a longer one is not telephony traffic,
-- and STARTs closed as stale within the longest call before `from` are rows too (their STOPs,
-- which carry the same start, are read with them).
CREATE OR REPLACE VIEW {database}.call_spans
SQL SECURITY INVOKER AS
WITH
    ifNull((SELECT argMax(longest_call_s, configured_at) FROM {database}.noc_config), 0) AS configured_longest_s,
    -- 43200: Settings.longest_call_s's default, until a worker has written the configuration
    toInt64(if(configured_longest_s = 0, 43200, configured_longest_s)) * 1000 AS longest_ms,
    toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')}) AS from_ms,
    toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')}) AS to_ms,
records AS (
    SELECT record_kind, source, call_id, answer_time IS NOT NULL AS answered,
           toUnixTimestamp64Milli(start_time) AS start_ms, toUnixTimestamp64Milli(end_time) AS end_ms,
           ingress_trunk, egress_trunk, interconnect, ifNull(toString(direction), '') AS direction, tenant,
           ifNull(called_e164, '') AS called_e164
    FROM {database}.cdr
    WHERE start_time >= fromUnixTimestamp64Milli(from_ms - 2 * longest_ms) AND start_time <= {to:DateTime64(3, 'UTC')}
),
closed AS (
    SELECT source, call_id FROM records WHERE record_kind != 'start' AND answered
)
SELECT source, call_id, start_ms, end_ms, toUInt8(0) AS open, toUInt8(0) AS closed_stale,
       ingress_trunk, egress_trunk, interconnect, direction, tenant, called_e164
FROM records
WHERE record_kind != 'start' AND end_ms >= from_ms
UNION ALL
SELECT source, call_id, start_ms, start_ms + longest_ms AS end_ms, toUInt8(1) AS open,
       toUInt8(start_ms + longest_ms <= to_ms) AS closed_stale,
       ingress_trunk, egress_trunk, interconnect, direction, tenant, called_e164
FROM records
WHERE record_kind = 'start' AND start_ms + 2 * longest_ms >= from_ms AND (source, call_id) NOT IN closed;

-- Calls in progress at one instant, per interconnect and direction, per trunk group (a call
-- holds a channel on its ingress and its egress trunk group) and per tenant: `dimension` says
-- which, `name` names it. `stale`: STARTs closed as stale within the longest call before `at`.
CREATE OR REPLACE VIEW {database}.calls_in_progress
SQL SECURITY INVOKER AS
WITH toUnixTimestamp64Milli({at:DateTime64(3, 'UTC')}) AS at_ms
SELECT d.1 AS dimension, d.2 AS name, d.3 AS direction,
       countIf(start_ms <= at_ms AND at_ms < end_ms) AS calls,
       countIf(closed_stale AND end_ms <= at_ms) AS stale
FROM (SELECT *, arrayJoin(arrayFilter(x -> x.2 != '', arrayDistinct([
          ('interconnect', interconnect, direction), ('trunk', ingress_trunk, ''), ('trunk', egress_trunk, ''),
          ('tenant', tenant, '')]))) AS d
      FROM {database}.call_spans(from = {at:DateTime64(3, 'UTC')}, to = {at:DateTime64(3, 'UTC')}))
GROUP BY dimension, name, direction
HAVING calls > 0 OR stale > 0
ORDER BY dimension, name, direction;

-- Calls in progress sampled every `step_s` from `from` to `to` (the NOC panel's series): each
-- call counts at the instants from + k·step within [start, end).
CREATE OR REPLACE VIEW {database}.calls_in_progress_series
SQL SECURITY INVOKER AS
WITH
    toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')}) AS from_ms,
    toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')}) AS to_ms,
    {step_s:UInt32} * 1000 AS step_ms
SELECT fromUnixTimestamp64Milli(from_ms + k * step_ms) AS at, d.1 AS dimension, d.2 AS name, d.3 AS direction,
       count() AS calls
FROM (SELECT *, arrayJoin(arrayFilter(x -> x.2 != '', arrayDistinct([
          ('interconnect', interconnect, direction), ('trunk', ingress_trunk, ''), ('trunk', egress_trunk, ''),
          ('tenant', tenant, '')]))) AS d
      FROM {database}.call_spans(from = {from:DateTime64(3, 'UTC')}, to = {to:DateTime64(3, 'UTC')}))
ARRAY JOIN range(toUInt64(greatest(0, intDiv(start_ms - from_ms + step_ms - 1, step_ms))),
                 toUInt64(greatest(0, least(intDiv(end_ms - from_ms + step_ms - 1, step_ms),
                                            intDiv(to_ms - from_ms, step_ms) + 1)))) AS k
GROUP BY at, dimension, name, direction
ORDER BY at, dimension, name, direction;

-- Trunk group load per interval of `bucket_s` seconds over [from, to): peak simultaneous calls,
-- offered traffic in Erlangs (average concurrency), the configured channels, utilisation (peak /
-- channels) and the Erlang B blocking of that traffic on those channels: the recursion of
-- schemas/erlang.py, as in the tenants' channel load (0010). Peaks as there: each call is a piece
-- in every interval it overlaps; an interval sorts its own starts and ends (ends first at the
-- same instant), starting from the calls already up. Trunks without configured channels have
-- channels 0 and no utilisation or blocking.
CREATE OR REPLACE VIEW {database}.trunk_load
SQL SECURITY INVOKER AS
WITH
    toUnixTimestamp64Milli({from:DateTime64(3, 'UTC')}) AS from_ms,
    toUnixTimestamp64Milli({to:DateTime64(3, 'UTC')}) AS to_ms,
    {bucket_s:UInt32} * 1000 AS bucket_ms,
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
           arraySort(arrayConcat(groupArrayIf((s, toInt8(1)), s >= b0 AND e > s),
                                 groupArrayIf((e, toInt8(-1)), e < b0 + bucket_ms AND e > s))) AS events,
           carried + greatest(0, arrayMax(arrayPushFront(arrayCumSum(arrayMap(x -> toInt64(x.2), events)), 0))) AS peak_concurrent,
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
