-- Live view: NOC alarms open, and those resolved within the hour before the newest alarm update
-- (event time, so alarms in simulated history show too); open first, newest first.
WITH (SELECT max(updated_at) FROM {database}.alarms) AS newest
SELECT toString(id) AS id, toString(status) AS status, kind, subject, since, updated_at
FROM {database}.alarms FINAL
WHERE status != 'resolved' OR updated_at >= newest - 3600
ORDER BY status = 'resolved', since DESC
LIMIT {top:UInt32}
