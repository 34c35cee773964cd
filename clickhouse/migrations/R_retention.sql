-- Repeatable: runs on every `cdrflow migrate`, so a changed retention_days takes effect.
ALTER TABLE {database}.cdr MODIFY TTL toDateTime(start_time) + INTERVAL {retention_days} DAY;
