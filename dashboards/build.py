"""Dashboard JSON through grafana-foundation-sdk, plus Grafana file-provisioning YAML.

The SDK has no ClickHouse query type (and its annotation target has no SQL field), so queries are
a small Dataquery of our own and annotation targets are added to the SDK's JSON afterwards.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml
from grafana_foundation_sdk.builders import dashboard as sdk
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from cdrflow.clickhouse.sql import fill
from cdrflow.infra.config import Settings

from .definitions import TABLE, Dashboard, Panel, Variable, all_dashboards

PLUGIN = "grafana-clickhouse-datasource"
DATASOURCE_UID = "cdrflow-clickhouse"
DATASOURCE = model.DataSourceRef(type_val=PLUGIN, uid=DATASOURCE_UID)
FOLDER = "cdrflow"
OUT = Path(__file__).resolve().parent       # the committed files live next to their definitions


class ClickHouseQuery(cogvariants.Dataquery, cogbuilder.Builder):
    """The plugin's SQL-editor query; a builder of itself, as the SDK's panels expect builders."""

    def __init__(self, sql: str, fmt: int, ref_id: str = "A"):
        self.sql, self.fmt, self.ref_id = sql, fmt, ref_id

    def build(self) -> "ClickHouseQuery":
        return self

    def to_json(self) -> dict:
        return {"refId": self.ref_id, "datasource": {"type": PLUGIN, "uid": DATASOURCE_UID},
                "editorType": "sql", "rawSql": self.sql, "format": self.fmt}


def _variable(v: Variable, settings: Settings) -> cogbuilder.Builder:
    if v.constant is not None:
        return sdk.ConstantVariable(v.name).value(v.constant)
    if v.custom:
        return (sdk.CustomVariable(v.name).values(",".join(f"{text} : {value}" for text, value in v.custom))
                .multi(v.multi).include_all(v.include_all)
                .current(model.VariableOption(text=v.custom[0][0], value=v.custom[0][1], selected=True)))
    return (sdk.QueryVariable(v.name).datasource(DATASOURCE).query(fill(v.query, settings))
            .multi(v.multi).include_all(v.include_all).refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .current(model.VariableOption(text="All", value="$__all", selected=True)))


def _panel(p: Panel, panel_id: int, settings: Settings) -> sdk.Panel:
    panel = (sdk.Panel().id(panel_id).type(p.kind).title(p.title).datasource(DATASOURCE)
             .grid_pos(model.GridPos(h=p.height, w=p.width))
             .with_target(ClickHouseQuery(fill(p.sql, settings), p.format)))
    if p.unit:
        panel = panel.unit(p.unit)
    if p.thresholds:
        steps = [model.Threshold(value=value, color=colour) for value, colour in p.thresholds]
        panel = panel.thresholds(sdk.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps))
    if p.options:
        panel = panel.options(p.options)
    if p.custom:
        panel = panel.custom(p.custom)
    for regexp, properties in p.overrides:
        panel = panel.override_by_regexp(regexp, [model.DynamicConfigValue(id_val=k, value=v)
                                                  for k, v in properties.items()])
    return panel


def dashboard_json(d: Dashboard, settings: Settings) -> dict:
    builder = (sdk.Dashboard(d.title).uid(d.uid).tags(["cdrflow"]).time(d.time_from, "now").refresh(d.refresh)
               .timezone("utc").editable())
    for v in d.variables:
        builder = builder.with_variable(_variable(v, settings))
    for panel_id, p in enumerate(d.panels, start=1):
        builder = builder.with_panel(_panel(p, panel_id, settings))
    if d.annotation_sql:   # shown on every time-series panel: no panel filter
        builder = builder.annotation(sdk.AnnotationQuery().name("Incidents").datasource(DATASOURCE).enable(True)
                                     .icon_color("red"))
    document = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    if d.annotation_sql:
        target = ClickHouseQuery(fill(d.annotation_sql, settings), TABLE, "Anno").to_json()
        next(a for a in document["annotations"]["list"] if a["name"] == "Incidents")["target"] = target
    return document


def datasource_provisioning(host: str, port: int, protocol: str, username: str, database: str) -> dict:
    return {"apiVersion": 1, "datasources": [{
        "name": "cdrflow ClickHouse", "uid": DATASOURCE_UID, "type": PLUGIN, "editable": False,
        "jsonData": {"host": host, "port": port, "protocol": protocol, "secure": False,
                     "username": username, "defaultDatabase": database},
        # Grafana expands $VAR from its environment: the password never sits in the repository
        "secureJsonData": {"password": "$CLICKHOUSE_PASSWORD"},
    }]}


def dashboard_provisioning(path: str) -> dict:
    return {"apiVersion": 1, "providers": [{"name": "cdrflow", "folder": FOLDER, "type": "file",
                                            "disableDeletion": False, "allowUiUpdates": False,
                                            "options": {"path": path}}]}


def build(settings: Settings, out: Path = OUT, *, clickhouse_host: str = "clickhouse", clickhouse_port: int = 8123,
          protocol: str = "http", username: str = "default",
          dashboards_path: str = "/var/lib/grafana/dashboards/cdrflow") -> list[Path]:
    """Writes json/<uid>.json, provisioning/{datasources,dashboards}/cdrflow.yaml and the alerting
    provisioning (provisioning/alerting/*.yaml: dashboards/alerting.py) under `out`."""
    from .alerting import alerting_files     # here: alerting.py reads this module's datasource constants

    written = []
    for d in all_dashboards(settings):
        path = out / "json" / f"{d.uid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dashboard_json(d, settings), indent=2) + "\n")
        written.append(path)
    for kind, document in (("datasources", datasource_provisioning(clickhouse_host, clickhouse_port, protocol, username,
                                                                  settings.clickhouse_database)),
                           ("dashboards", dashboard_provisioning(dashboards_path))):
        path = out / "provisioning" / kind / "cdrflow.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        written.append(path)
    for name, document in alerting_files(settings).items():
        path = out / "provisioning" / "alerting" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False, width=120))
        written.append(path)
    return written
