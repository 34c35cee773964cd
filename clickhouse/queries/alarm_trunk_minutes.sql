-- Utilisation alarms: peak simultaneous calls per trunk group with configured channels, per minute
-- of [from, to). Parameters: from, to (DateTime64(3)).
SELECT trunk, toUnixTimestamp64Milli(bucket) AS minute_ms, peak_concurrent, channels
FROM {database}.trunk_load(from = {from:DateTime64(3, 'UTC')}, to = {to:DateTime64(3, 'UTC')}, bucket_s = 60)
WHERE channels > 0
