"""Alerting as code, checked the way the dashboards are: every rule's SQL runs on embedded ClickHouse
holding the simulated demo (an open incident) and returns what Grafana turns into alerts, and the
files hold to Grafana's provisioning format and round-trip through the SDK's alerting models.

Grafana publishes no JSON Schema for its alerting provisioning files, so the format below is
written from its documentation ("Use configuration files to provision alerting resources",
grafana.com/docs/grafana/latest/alerting/set-up/provision-alerting-resources/file-provisioning/):
the required keys of each resource and the documented values of the enumerations; the SDK
(grafana-foundation-sdk's models.alerting, the HTTP API's types) types the rest."""
from __future__ import annotations

import typing

import pytest
import yaml
from cdrflow.dashboards.alerting import CONTACT_POINT, GROUP, alerting_files
from cdrflow.dashboards.build import DATASOURCE_UID, FOLDER, build
from cdrflow.dashboards.simulated import load_demo
from cdrflow.incidents.actions import add_action
from cdrflow.infra.config import Settings
from grafana_foundation_sdk.models import alerting as sdk

# the documented file format: required keys per resource
REQUIRED = {
    "group": {"orgId", "name", "folder", "interval", "rules"},
    "rule": {"uid", "title", "condition", "data", "noDataState", "execErrState", "for"},
    "query": {"refId", "relativeTimeRange", "datasourceUid", "model"},
    "contact_point": {"orgId", "name", "receivers"},
    "receiver": {"uid", "type", "settings"},
    "template": {"orgId", "name", "template"},
    "policy": {"orgId", "receiver"},
}
DURATION = r"^\d+(ms|s|m|h|d|w)$"


def literal_values(model: type, field: str) -> set[str]:
    hint = typing.get_type_hints(model)[field]
    return set(typing.get_args(hint))


def test_files_hold_to_grafanas_provisioning_format():
    import re

    files = alerting_files(Settings())
    assert all(document["apiVersion"] == 1 for document in files.values())
    (group,) = files["rules.yaml"]["groups"]
    assert REQUIRED["group"] <= set(group) and group["folder"] == FOLDER and re.match(DURATION, group["interval"])
    uids = [rule["uid"] for rule in group["rules"]]
    assert len(uids) == len(set(uids)) and all(len(uid) <= 40 for uid in uids)   # Grafana's uid limit
    for rule in group["rules"]:
        assert REQUIRED["rule"] <= set(rule), rule["uid"]
        assert rule["noDataState"] in literal_values(sdk.Rule, "no_data_state")
        assert rule["execErrState"] in literal_values(sdk.Rule, "exec_err_state")
        assert re.match(DURATION, rule["for"])
        refs = [q["refId"] for q in rule["data"]]
        assert rule["condition"] in refs and len(refs) == len(set(refs))
        for q in rule["data"]:
            assert REQUIRED["query"] <= set(q) and q["model"]["refId"] == q["refId"]
            assert q["datasourceUid"] in (DATASOURCE_UID, "__expr__")
            if q["datasourceUid"] == "__expr__":     # expressions name queries of the same rule
                assert q["model"]["expression"] in refs
        # the API model reads the rule back unchanged (the file leaves folder, group and org to its group)
        api = {**rule, "folderUID": FOLDER, "ruleGroup": GROUP, "orgID": 1}
        assert plain(sdk.Rule.from_json(api).to_json()) == api

    (point,) = files["contact-points.yaml"]["contactPoints"]
    assert REQUIRED["contact_point"] <= set(point) and point["name"] == CONTACT_POINT
    for receiver in point["receivers"]:
        assert REQUIRED["receiver"] <= set(receiver)
        assert receiver["type"] in literal_values(sdk.ContactPoint, "type_val")
        api = {"name": point["name"], **receiver}
        assert plain(sdk.ContactPoint.from_json(api).to_json()) == api
    (template,) = files["templates.yaml"]["templates"]
    assert REQUIRED["template"] <= set(template)
    # every template the contact point uses is defined
    used = {name for r in point["receivers"] for v in r["settings"].values() if isinstance(v, str)
            for name in re.findall(r'template "([\w.]+)"', v)}
    assert used and used <= set(re.findall(r'define "([\w.]+)"', template["template"]))
    assert plain(sdk.NotificationTemplate.from_json(template).to_json()) == \
        {"name": template["name"], "template": template["template"]}

    (policy,) = files["policies.yaml"]["policies"]
    assert REQUIRED["policy"] <= set(policy) and policy["receiver"] == CONTACT_POINT
    assert all(route["receiver"] == CONTACT_POINT for route in policy["routes"])
    api = {k: v for k, v in policy.items() if k != "orgId"}
    assert plain(sdk.NotificationPolicy.from_json(api).to_json()) == api
    # the policy routes on labels the rules set
    labels = {k for rule in group["rules"] for k in rule["labels"]} | {"alertname"}
    assert set(policy["group_by"]) - {"interconnect", "direction"} <= labels
    assert {m[0] for route in policy["routes"] for m in route["object_matchers"]} <= labels


def plain(value):
    """An SDK model's to_json() output as plain data."""
    import json

    return json.loads(json.dumps(value, default=lambda o: o.to_json()))


def rule_rows(client, settings, uid: str) -> list[dict]:
    (group,) = alerting_files(settings)["rules.yaml"]["groups"]
    rule = next(r for r in group["rules"] if r["uid"] == uid)
    result = client.query(rule["data"][0]["model"]["rawSql"])
    rows = [dict(zip(result.column_names, row)) for row in result.result_rows]
    for row in rows:    # what Grafana makes an alert of: string labels and exactly one number, > 0 to fire
        numbers = [v for v in row.values() if not isinstance(v, str)]
        assert len(numbers) == 1 and numbers[0] > 0, row
    # the annotations name only labels the alert has, in Go template braces
    import re

    text = " ".join(rule["annotations"].values())
    referenced = set(re.findall(r"\{\{ \$labels\.(\w+) \}\}", text))
    if rows:    # chdb names no columns of an empty result
        assert referenced <= set(result.column_names) | set(rule["labels"]), referenced
    assert text.count("{{") == text.count("}}") == len(re.findall(r"\{\{ \$labels\.\w+ \}\}", text))
    return rows


def test_rules_fire_on_the_demo_incident_and_alarm(clickhouse):
    settings, client = clickhouse
    opened = load_demo(client, settings)
    ids = sorted(i["id"] for i in opened)
    assert sorted(r["incident"] for r in rule_rows(client, settings, "cdrflow-incident-open")) == ids
    assert {(r["interconnect"], r["severity"]) for r in rule_rows(client, settings, "cdrflow-incident-open")} <= \
        {("att", "major"), ("att", "critical")}
    # nobody took the demo's incidents: both escalate (after the rule's pending time), until acknowledged
    assert sorted(r["incident"] for r in rule_rows(client, settings, "cdrflow-incident-unacknowledged")) == ids
    add_action(settings, ids[0], "ack", "ann")
    assert [r["incident"] for r in rule_rows(client, settings, "cdrflow-incident-unacknowledged")] == ids[1:]

    # the demo's own alarms, then one that opens and resolves and one that stays open
    before = {(r["alarm"], r["kind"]) for r in rule_rows(client, settings, "cdrflow-alarm-open")}
    resolved, open_ = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
    client.insert(f"{settings.clickhouse_database}.alarms", [[resolved, 1, "open", "utilisation", "TG-ATT-01"],
                                                            [resolved, 2, "resolved", "utilisation", "TG-ATT-01"],
                                                            [open_, 1, "open", "long_call", "TG-VZ-01"]],
                  column_names=["id", "version", "status", "kind", "subject"])
    after = {(r["alarm"], r["kind"]) for r in rule_rows(client, settings, "cdrflow-alarm-open")}
    assert after - before == {(open_, "long_call")} and (resolved, "utilisation") not in after


def test_build_writes_the_alerting_files(tmp_path):
    written = {str(p.relative_to(tmp_path)) for p in build(Settings(), tmp_path)}
    assert {f"provisioning/alerting/{name}" for name in alerting_files(Settings())} <= written
    rules = yaml.safe_load((tmp_path / "provisioning/alerting/rules.yaml").read_text())
    assert rules == alerting_files(Settings())["rules.yaml"]
    assert "{database}" not in str(rules) and "cdrflow.incidents" in str(rules)


@pytest.mark.parametrize("name", sorted(alerting_files(Settings())))
def test_committed_alerting_files_are_built(name):
    from cdrflow.dashboards.build import OUT

    assert yaml.safe_load((OUT / "provisioning" / "alerting" / name).read_text()) == \
        alerting_files(Settings())[name], "run `cdrflow dashboards build`"
