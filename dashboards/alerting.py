"""Grafana alerting as code: alert rules on open incidents and alarms, the message template, the
contact point and the notification policy, as Grafana's file-provisioning YAML
(provisioning/alerting/*.yaml; the Helm chart mounts them for Grafana's sidecar).

Each rule's query (clickhouse/queries/alert_*.sql) is a table, one row per open incident or alarm:
its string columns become the alert's labels and its one number the value, so every incident pages
on its own and resolves when its row goes. Where Grafana alerting is not used, `cdrflow notify`
(stream/notifier.py) sends the same events to a webhook and email itself.
"""
from __future__ import annotations

from cdrflow.clickhouse.sql import query
from cdrflow.infra.config import Settings

from .build import DATASOURCE_UID, FOLDER, PLUGIN
from .definitions import TABLE

ORG_ID = 1
GROUP = "cdrflow-noc"
CONTACT_POINT = "cdrflow-noc"
TEMPLATE = "cdrflow"
UNACKNOWLEDGED_MINUTES = 15     # an open incident nobody acknowledged this long escalates (the rule's `for`)


def _rule(uid: str, title: str, query_name: str, settings: Settings, summary: str, description: str,
          labels: dict[str, str], pending: str = "0s") -> dict:
    """A rule whose query returns one row per firing subject; it fires while the row's number is > 0."""
    table = {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": DATASOURCE_UID,
             "model": {"refId": "A", "datasource": {"type": PLUGIN, "uid": DATASOURCE_UID}, "editorType": "sql",
                       "queryType": "table", "format": TABLE, "rawSql": query(query_name, settings)}}
    threshold = {"refId": "B", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
                 "model": {"refId": "B", "type": "threshold", "expression": "A",
                           "datasource": {"type": "__expr__", "uid": "__expr__"},
                           "conditions": [{"evaluator": {"type": "gt", "params": [0]}}]}}
    return {"uid": uid, "title": title, "condition": "B", "data": [table, threshold],
            # no rows = nothing open; a query that fails is an error, shown as such, not a page
            "noDataState": "OK", "execErrState": "Error", "for": pending,
            "annotations": {"summary": summary, "description": description},
            "labels": {"source": "cdrflow", **labels}, "isPaused": False}


def rules(settings: Settings) -> dict:
    return {"apiVersion": 1, "groups": [{"orgId": ORG_ID, "name": GROUP, "folder": FOLDER, "interval": "1m", "rules": [
        _rule("cdrflow-incident-open", "Interconnect incident open", "alert_incidents_open", settings,
              "{{ $labels.severity }} incident on {{ $labels.interconnect }}/{{ $labels.direction }}",
              "Report for the carrier: cdrflow incidents show {{ $labels.incident }}. "
              "Take it: cdrflow incidents ack {{ $labels.incident }} --by NAME", {"kind": "incident"}),
        _rule("cdrflow-incident-unacknowledged", f"Incident unacknowledged for {UNACKNOWLEDGED_MINUTES} minutes",
              "alert_incidents_unacknowledged", settings,
              "Nobody acknowledged the incident on {{ $labels.interconnect }}/{{ $labels.direction }}",
              f"Open over {UNACKNOWLEDGED_MINUTES} minutes. "
              "Take it: cdrflow incidents ack {{ $labels.incident }} --by NAME",
              {"kind": "incident", "severity": "critical", "escalation": "unacknowledged"},
              pending=f"{UNACKNOWLEDGED_MINUTES}m"),
        _rule("cdrflow-alarm-open", "NOC alarm open", "alert_alarms_open", settings,
              "{{ $labels.kind }} alarm on {{ $labels.subject }}", "Alarm {{ $labels.alarm }}", {"kind": "alarm"}),
    ]}]}


TEMPLATE_TEXT = """{{ define "cdrflow.title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}\
{{ if .CommonLabels.interconnect }} on {{ .CommonLabels.interconnect }}{{ end }}{{ end }}
{{ define "cdrflow.message" }}{{ range .Alerts }}{{ .Status | toUpper }}: {{ .Annotations.summary }}
{{ .Annotations.description }}
{{ end }}{{ end }}
"""


def templates() -> dict:
    return {"apiVersion": 1, "templates": [{"orgId": ORG_ID, "name": TEMPLATE, "template": TEMPLATE_TEXT}]}


def contact_points() -> dict:
    # Grafana expands $VAR from its environment: addresses and URLs are set per site, not in the repository
    message = {"title": '{{ template "cdrflow.title" . }}', "message": '{{ template "cdrflow.message" . }}'}
    return {"apiVersion": 1, "contactPoints": [{"orgId": ORG_ID, "name": CONTACT_POINT, "receivers": [
        {"uid": "cdrflow-noc-webhook", "type": "webhook", "disableResolveMessage": False,
         "settings": {"url": "$CDRFLOW_ALERT_WEBHOOK_URL", "httpMethod": "POST", **message}},
        {"uid": "cdrflow-noc-email", "type": "email", "disableResolveMessage": False,
         "settings": {"addresses": "$CDRFLOW_ALERT_EMAILS", "singleEmail": True,
                      "subject": message["title"], "message": message["message"]}},
    ]}]}


def policies() -> dict:
    # A provisioned policy tree replaces the organisation's whole tree (Grafana's rule for files).
    return {"apiVersion": 1, "policies": [{
        "orgId": ORG_ID, "receiver": CONTACT_POINT, "group_by": ["alertname", "interconnect", "direction"],
        "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
        "routes": [{"receiver": CONTACT_POINT, "object_matchers": [["severity", "=", "critical"]],
                    "group_wait": "10s", "repeat_interval": "1h"}],
    }]}


def alerting_files(settings: Settings) -> dict[str, dict]:
    """file name (under provisioning/alerting/) → document."""
    return {"rules.yaml": rules(settings), "templates.yaml": templates(), "contact-points.yaml": contact_points(),
            "policies.yaml": policies()}
