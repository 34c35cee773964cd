-- The alarms agent's state at start: every alarm's newest version (open ones go on; the ids of
-- the others are not opened again) and when each was last reported.
SELECT toString(id) AS id, toString(status) AS status, detail, toUnixTimestamp(updated_at) * 1000 AS updated_ms
FROM {database}.alarms FINAL
