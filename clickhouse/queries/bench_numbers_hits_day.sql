-- `cdrflow numbers bench`: the daily hits of {day:UInt32} days before {as_of:DateTime64(3, 'UTC')}
-- for a {share:Float64} share of the {n:UInt64} numbers from {first:UInt64}: 1–3 calls each, some
-- answered, callers from a pool of 50. One day per insert: one partition, bounded memory.
INSERT INTO {database}.number_hits_daily
SELECT {first:UInt64} + number AS n, toDate({as_of:DateTime64(3, 'UTC')}) - {day:UInt32} AS day,
       toUInt64(1 + cityHash64(n, day) % 3) AS calls, toUInt64(cityHash64(n, day, 1) % 2) AS answered,
       initializeAggregation('uniqIfState', toString(cityHash64(n) % 50), toUInt8(1))
FROM numbers({n:UInt64})
WHERE cityHash64(n, day, 2) % 1000 < {share:Float64} * 1000
