"""Dashboards as code: every panel's SQL, expanded as Grafana and the ClickHouse plugin expand it,
runs on embedded ClickHouse holding two simulated hours with an open incident and returns the
columns its visualisation reads; the JSON holds together and round-trips through the SDK model."""
from __future__ import annotations

import json
import re

import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

from cdrflow.config import Settings
from cdrflow.dashboards.build import DATASOURCE_UID, PLUGIN, build, dashboard_json
from cdrflow.dashboards.definitions import TIME_SERIES, all_dashboards
from cdrflow.dashboards.macros import ALL, TimeRange, expand
from cdrflow.dashboards.simulated import FAULT_START, SIM_END, SIM_START, demo_range, load_demo
from cdrflow.stream.partials import MINUTE_MS

RANGE = TimeRange(SIM_START, SIM_END, interval_s=120)
SELECTIONS = {
    "all": {"interconnect": ALL, "direction": ALL},
    "multi": {"interconnect": ["att", "verizon"], "direction": ["out"]},
}


def variables_for(d, selection: dict) -> dict:
    values = {v.name: v.constant for v in d.variables if v.constant is not None}
    values.update({v.name: v.custom[0][1] for v in d.variables if v.custom})
    values.update({v.name: ALL for v in d.variables if v.query})
    return {**values, **{k: v for k, v in selection.items() if k in values}}


def all_values(client, d, settings) -> dict:
    """What Grafana substitutes for All: the variable query's own result, expanded the same way."""
    return {v.name: [str(r[0]) for r in client.query(expand(v.query.format(database=settings.clickhouse_database),
                                                              demo_range(d.uid))).result_rows]
            for v in d.variables if v.query}


def run(client, sql: str) -> tuple[list[str], list[tuple]]:
    result = client.query(sql)
    return list(result.column_names), result.result_rows


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
def test_every_panel_returns_the_columns_it_needs(clickhouse, selection):
    settings, client = clickhouse
    load_demo(client, settings)
    empty = []
    for d in all_dashboards(settings):
        options = all_values(client, d, settings)
        variables = variables_for(d, SELECTIONS[selection])
        for p in d.panels:
            sql = expand(p.sql.replace("{database}", settings.clickhouse_database), demo_range(d.uid), variables, options)
            columns, rows = run(client, sql)
            assert set(p.columns) <= set(columns), (d.title, p.title, columns)
            if p.format == TIME_SERIES:
                assert columns[0] == "time", (d.title, p.title)
            if not rows:
                empty.append((d.title, p.title))
    # the selection of att+verizon/out holds no quarantined numbers' tenants issue: none may be empty
    assert empty == []


def test_open_incident_is_in_the_incidents_panel_and_the_annotations(clickhouse):
    settings, client = clickhouse
    opened = load_demo(client, settings)
    # att's answers collapse in both directions and stay collapsed; nothing else is faulty
    assert sorted((i["interconnect"], i["direction"]) for i in opened) == [("att", "in"), ("att", "out")]
    noc = next(d for d in all_dashboards(settings) if d.uid == "cdrflow-noc")
    variables = variables_for(noc, SELECTIONS["all"])
    options = all_values(client, noc, settings)
    open_panel = next(p for p in noc.panels if p.title == "Open incidents")
    columns, rows = run(client, expand(open_panel.sql.replace("{database}", "cdrflow"), RANGE, variables, options))
    assert sorted(r[columns.index("id")] for r in rows) == sorted(i["id"] for i in opened)
    columns, rows = run(client, expand(noc.annotation_sql.replace("{database}", "cdrflow"), RANGE, variables, options))
    assert columns == ["time", "timeEnd", "text"]
    for i in opened:
        (time, end, text), = [r for r in rows if r[2].startswith(f"att/{i['direction']}:")]
        assert time.timestamp() * 1000 == i["start_ms"] >= FAULT_START and end.timestamp() * 1000 == SIM_END
        assert "open" in text and "asr_drop" in text


def test_macros_expand_as_the_plugin_does():
    t = TimeRange(1_700_000_000_500, 1_700_003_600_900, interval_s=0.5)
    sql = ("SELECT $__timeInterval(c), $__interval_s FROM t WHERE $__timeFilter(c) AND $__timeFilter_ms(d) "
           "AND $__dateFilter(day) AND x > $__fromTime AND x < $__toTime AND y < $__toTime_ms "
           "AND $__conditionalAll(ic IN (${ic}), $ic) AND $__conditionalAll(dir IN ($dir), $dir) AND p = $p")
    out = expand(sql, t, {"ic": ["a", "b"], "dir": ALL, "p": "DAY"}, {"dir": ["in", "out"]})
    assert out == ("SELECT toStartOfInterval(toDateTime(c), INTERVAL 1 second), 1 FROM t "
                   "WHERE c >= toDateTime(1700000000) AND c <= toDateTime(1700003600) "
                   "AND d >= fromUnixTimestamp64Milli(1700000000500) AND d <= fromUnixTimestamp64Milli(1700003600900) "
                   "AND day >= toDate('2023-11-14') AND day <= toDate('2023-11-14') "
                   "AND x > toDateTime(1700000000) AND x < toDateTime(1700003600) "
                   "AND y < fromUnixTimestamp64Milli(1700003600900) "
                   "AND ic IN ('a','b') AND 1=1 AND p = DAY")
    # without $__conditionalAll, All is every option of the variable
    assert expand("d IN (${dir})", t, {"dir": ALL}, {"dir": ["in", "out"]}) == "d IN ('in','out')"
    with pytest.raises(ValueError):
        expand("SELECT $__unknownMacro", t)


_USED = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@pytest.mark.parametrize("d", all_dashboards(Settings()), ids=lambda d: d.uid)
def test_dashboard_json_holds_together(d):
    document = dashboard_json(d, Settings())
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids)) == len(d.panels)
    defined = {v["name"] for v in document["templating"]["list"]}
    used: set[str] = set()
    queries = [t for p in document["panels"] for t in p["targets"]]
    queries += [a["target"] for a in document.get("annotations", {}).get("list", []) if "target" in a]
    for target in queries:
        assert target["datasource"] == {"type": PLUGIN, "uid": DATASOURCE_UID}
        assert "$__" in target["rawSql"], "every query uses the plugin's macros"
        used |= {a or b for a, b in _USED.findall(target["rawSql"]) if not (a or b).startswith("__")}
    for p in document["panels"]:
        assert p["datasource"]["uid"] == DATASOURCE_UID
    for v in document["templating"]["list"]:
        if v["type"] == "query":
            assert v["datasource"]["uid"] == DATASOURCE_UID
    assert used <= defined, f"variables used but not defined: {used - defined}"
    assert defined <= used, f"variables defined but never used: {defined - used}"
    # the SDK's model reads it back unchanged (annotation targets are plugin queries it cannot type)
    plain = json.loads(json.dumps(document))
    for a in plain.get("annotations", {}).get("list", []):
        a.pop("target", None)
    assert json.loads(json.dumps(SdkDashboard.from_json(plain).to_json(), default=lambda o: o.to_json())) == plain


def test_build_writes_the_committed_files(tmp_path):
    written = build(Settings(), tmp_path)
    names = sorted(str(p.relative_to(tmp_path)) for p in written)
    assert names == sorted([f"json/{d.uid}.json" for d in all_dashboards(Settings())]
                           + ["provisioning/dashboards/cdrflow.yaml", "provisioning/datasources/cdrflow.yaml"])
    import yaml
    datasource = yaml.safe_load((tmp_path / "provisioning/datasources/cdrflow.yaml").read_text())["datasources"][0]
    assert (datasource["uid"], datasource["type"], datasource["jsonData"]["defaultDatabase"]) == \
        (DATASOURCE_UID, PLUGIN, "cdrflow")
    # the files in the repository are what build writes now: nobody edits them by hand
    from cdrflow.dashboards.build import OUT
    for path in written:
        assert (OUT / path.relative_to(tmp_path)).read_text() == path.read_text(), f"run `cdrflow dashboards build`: {path}"
