-- The cdr_ids stored with a start time in [{lo:Int64}, {hi:Int64}] (epoch milliseconds) whose
-- first 64 bits are in {prefixes:Array(UInt64)}: a wide range filtered in ClickHouse, so only the
-- likely repeats of the batch come back (the writer compares them whole).
SELECT toString(cdr_id)
FROM {database}.cdr
WHERE start_time BETWEEN fromUnixTimestamp64Milli({lo:Int64}) AND fromUnixTimestamp64Milli({hi:Int64})
  AND reinterpretAsUInt64(reverse(substring(UUIDStringToNum(toString(cdr_id)), 1, 8))) IN {prefixes:Array(UInt64)}
