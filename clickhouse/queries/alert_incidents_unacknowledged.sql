-- Grafana alert rule (dashboards/alerting.py): open incidents nobody acknowledged
-- (`cdrflow incidents ack`); the rule's pending period makes it "for 15 minutes".
SELECT toString(id) AS incident, interconnect, toString(direction) AS direction, 1 AS unacknowledged
FROM {database}.incidents FINAL
WHERE status = 'open'
  AND id NOT IN (SELECT incident_id FROM {database}.incident_actions WHERE action = 'ack')
