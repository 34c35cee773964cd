-- An incident's acknowledgements and notes, oldest first.
SELECT formatDateTime(at, '%Y-%m-%d %H:%i:%S UTC') AS time, toString(action) AS action, by, text
FROM {database}.incident_actions
WHERE incident_id = toUUID({id:String})
ORDER BY at
