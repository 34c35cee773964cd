-- How many CDRs are stored with a start time in [{lo:Int64}, {hi:Int64}] (epoch milliseconds):
-- the writer's first look at a batch's time range before it checks the batch for redelivered ids.
SELECT count()
FROM {database}.cdr
WHERE start_time BETWEEN fromUnixTimestamp64Milli({lo:Int64}) AND fromUnixTimestamp64Milli({hi:Int64})
