-- `cdrflow tenants bench`: {n:UInt64} synthetic calls into tenant_calls (and through its view into
-- tenant_calls_by_caller), spread evenly over {span_ms:Float64} milliseconds from
-- {start:DateTime64(3, 'UTC')}. 10 tenants: t0 has 30 % of the calls, t1 20 %, the rest 6.25 % each.
INSERT INTO {database}.tenant_calls
SELECT
    multiIf(h % 100 < 30, 't0', h % 100 < 50, 't1', concat('t', toString(2 + h % 8))) AS tenant,
    {start:DateTime64(3, 'UTC')} + toIntervalMillisecond(toInt64(number * {span_ms:Float64} / {n:UInt64})) AS start_time,
    if(cls IN ('missed') AND h % 7 != 0, NULL, start_time + toIntervalMillisecond(wait)) AS answer_time,
    start_time + toIntervalMillisecond(wait + talk) AS end_time,
    generateUUIDv4(number) AS cdr_id,
    cls AS call_class,
    if(cls = 'forwarded', '', toString(200 + h % 40)) AS extension,
    concat('+1212555', toString(1000 + h % 50)) AS tenant_number,
    concat('+1', toString(2000000000 + cityHash64(number, 2) % 100000)) AS remote_number,
    if(cls = 'missed', 0, talk) AS talk_ms,
    wait AS wait_ms,
    if(cls IN ('outgoing'), ['local', 'long_distance', 'mobile', 'international'][1 + h % 4], '') AS call_direction,
    if(cls IN ('outgoing'), ['NYC', 'US', 'UK', 'UK mobile', 'FR', 'DE'][1 + h % 6], '') AS destination,
    if(cls IN ('outgoing'), round(talk / 60000 * 0.02, 6), NULL) AS cost
FROM (
    SELECT number, cityHash64(number) AS h,
           ['incoming', 'incoming', 'incoming', 'missed', 'outgoing', 'outgoing', 'outgoing', 'internal', 'forwarded'][1 + cityHash64(number, 1) % 9] AS cls,
           toUInt64(2000 + cityHash64(number, 3) % 30000) AS wait,
           toUInt64(cityHash64(number, 4) % 600000) AS talk
    FROM numbers({n:UInt64})
)
