-- The cdr_ids stored with a start time in [{lo:Int64}, {hi:Int64}] (epoch milliseconds), as text:
-- a narrow range's candidates, compared with the batch's ids by the writer.
SELECT toString(cdr_id)
FROM {database}.cdr
WHERE start_time BETWEEN fromUnixTimestamp64Milli({lo:Int64}) AND fromUnixTimestamp64Milli({hi:Int64})
