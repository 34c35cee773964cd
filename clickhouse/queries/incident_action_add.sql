-- An acknowledgement or a note on an incident, stamped with the server's time.
INSERT INTO {database}.incident_actions (incident_id, at, action, by, text)
SELECT toUUID({id:String}), now64(3, 'UTC'), {action:String}, {by:String}, {text:String}
