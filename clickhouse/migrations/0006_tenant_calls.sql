-- Tenant call accounting: the fields enrichment adds (stream/tenancy.py, stream/rating.py), and
-- tenant_calls — every call that belongs to a tenant, ordered by (tenant, start_time) so a view
-- over one tenant and period reads only that tenant's granules, and the one table a row policy
-- guards on a real server (see cdrflow/tenant_access.py).
ALTER TABLE {database}.cdr
    ADD COLUMN IF NOT EXISTS call_class     LowCardinality(String) AFTER extension,
    ADD COLUMN IF NOT EXISTS call_direction LowCardinality(String) AFTER call_class,
    ADD COLUMN IF NOT EXISTS destination    LowCardinality(String) AFTER call_direction,
    ADD COLUMN IF NOT EXISTS cost           Nullable(Float64) AFTER destination;

CREATE TABLE IF NOT EXISTS {database}.tenant_calls
(
    tenant         LowCardinality(String),
    start_time     DateTime64(3, 'UTC'),
    answer_time    Nullable(DateTime64(3, 'UTC')),
    end_time       DateTime64(3, 'UTC'),
    cdr_id         UUID,
    call_class     LowCardinality(String),
    extension      String,
    tenant_number  String,          -- the tenant's side: the DID called (incoming) or calling (outgoing)
    remote_number  String,          -- the other party, E.164 when it parsed
    talk_ms        UInt64,          -- 0 for missed calls (a queue's answer is not a conversation)
    wait_ms        UInt64,          -- answer − start, or for a missed call how long the caller waited
    call_direction LowCardinality(String),
    destination    LowCardinality(String),
    cost           Nullable(Float64)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (tenant, start_time)
TTL toDateTime(start_time) + INTERVAL {retention_days} DAY;

-- The cdr writer skips stored cdr_ids, so each call reaches this view once. SBC 'start' records
-- are not calls of their own (the call's 'stop' follows).
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.tenant_calls_mv TO {database}.tenant_calls AS
-- the tenant placed the call (outgoing, internal, or a rated diversion) or received it
WITH call_class IN ('outgoing', 'internal') OR call_direction != '' AS placed
SELECT
    tenant, start_time, answer_time, end_time, cdr_id, call_class, extension,
    if(placed, ifNull(calling_e164, calling_number), ifNull(called_e164, called_number)) AS tenant_number,
    if(placed, ifNull(called_e164, called_number), ifNull(calling_e164, calling_number)) AS remote_number,
    if(call_class = 'missed', 0, billable_ms) AS talk_ms,
    toUInt64(greatest(0, if(answer_time IS NULL OR call_class = 'missed',
                            dateDiff('millisecond', start_time, end_time),
                            dateDiff('millisecond', start_time, answer_time)))) AS wait_ms,
    call_direction, destination, cost
FROM {database}.cdr
WHERE tenant != '' AND call_class != '' AND record_kind != 'start';

-- Saved analyses ("notebook"): a named filter on number or prefix, stored per tenant and re-run
-- over any period through the tenant_notebook view. Latest version of a name wins.
CREATE TABLE IF NOT EXISTS {database}.tenant_saved_analyses
(
    tenant     LowCardinality(String),
    name       String,
    number_prefix String,           -- E.164 prefix matched against the remote or tenant number
    call_classes Array(String),     -- empty = every class
    note       String,
    saved_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(saved_at)
ORDER BY (tenant, name);
