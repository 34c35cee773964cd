-- Grafana alert rule (dashboards/alerting.py): one row per open incident, its labels and the number 1.
-- Only labels that stay put while the incident lives (a changed label is a new alert); a rise to
-- critical pages anew.
SELECT toString(id) AS incident, interconnect, toString(direction) AS direction, severity, 1 AS open
FROM {database}.incidents FINAL
WHERE status = 'open'
