-- Grafana alert rule (dashboards/alerting.py): one row per alarm not resolved, from the lifecycle
-- columns every alarm row carries (id, version, status, kind, subject).
SELECT toString(id) AS alarm, kind, subject, 1 AS open
FROM {database}.alarms FINAL
WHERE toString(status) != 'resolved'
