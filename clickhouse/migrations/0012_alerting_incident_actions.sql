-- What ops did about an incident: acknowledgements (`cdrflow incidents ack ID --by NAME`) and notes
-- (`cdrflow incidents note ID TEXT`), one row each and never changed, shown in the escalation
-- report and on the NOC dashboard's incident table.
CREATE TABLE IF NOT EXISTS {database}.incident_actions
(
    incident_id UUID,
    at          DateTime64(3, 'UTC'),
    action      Enum8('ack' = 1, 'note' = 2),
    by          String,
    text        String
)
ENGINE = MergeTree
ORDER BY (incident_id, at);
