"""Dashboards as code: every panel's SQL, expanded as Grafana and the ClickHouse plugin expand it,
runs on embedded ClickHouse holding two simulated hours with an open incident and returns the
columns its visualisation reads; the JSON holds together and round-trips through the SDK model."""
from __future__ import annotations

import json
import re
import time

import pytest
from cdrflow.dashboards.alerting import alerting_files
from cdrflow.dashboards.build import DATASOURCE_UID, PLUGIN, build, dashboard_json
from cdrflow.dashboards.definitions import TIME_SERIES, all_dashboards
from cdrflow.dashboards.macros import ALL, TimeRange, expand
from cdrflow.dashboards.preview import (
    default_selection,
    on_client,
    option_values,
    panel_sql,
)
from cdrflow.dashboards.simulated import (
    FAULT_START,
    SIM_END,
    SIM_START,
    demo_range,
    load_demo,
)
from cdrflow.infra.config import Settings
from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

RANGE = TimeRange(SIM_START, SIM_END, interval_s=120)
SELECTIONS = {
    "all": {"interconnect": ALL, "direction": ALL},
    "multi": {"interconnect": ["att", "verizon"], "direction": ["out"], "tenant": ["acme"], "worker": ["worker-1"],
              "period": "WEEK"},
}


def run_panels(clickhouse, selection: dict):
    """Every panel of every dashboard, as Grafana would run it with `selection` over the demo data."""
    settings, client = clickhouse
    run = on_client(client)
    for d in all_dashboards(settings):
        window = demo_range(d.uid)
        variables = {**default_selection(d), **{k: v for k, v in selection.items() if k in default_selection(d)}}
        options = option_values(run, d, settings, window)
        for p in d.panels:
            yield d, p, run(panel_sql(p.sql, settings, window, variables, options))


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
def test_every_panel_returns_the_columns_it_needs(clickhouse, selection):
    settings, client = clickhouse
    load_demo(client, settings)
    empty = []
    for d, p, (columns, rows) in run_panels(clickhouse, SELECTIONS[selection]):
        assert set(p.columns) <= set(columns), (d.title, p.title, columns)
        if p.format == TIME_SERIES:
            assert columns[0] == "time", (d.title, p.title)
        if not rows:
            empty.append((d.title, p.title))
        if selection == "multi" and "series" in columns:     # the selection reaches the SQL
            assert {r[columns.index("series")] for r in rows} <= {"att/out", "verizon/out"}, p.title
    assert empty == []


def test_open_incident_is_in_the_incidents_panel_and_the_annotations(clickhouse):
    settings, client = clickhouse
    opened = load_demo(client, settings)
    # att's answers collapse in both directions and stay collapsed; nothing else is faulty
    assert sorted((i["interconnect"], i["direction"]) for i in opened) == [("att", "in"), ("att", "out")]
    noc = next(d for d in all_dashboards(settings) if d.uid == "cdrflow-noc")
    run, variables = on_client(client), default_selection(noc)
    options = option_values(run, noc, settings, RANGE)
    open_panel = next(p for p in noc.panels if p.title == "Open incidents")
    columns, rows = run(panel_sql(open_panel.sql, settings, RANGE, variables, options))
    assert sorted(r[columns.index("id")] for r in rows) == sorted(i["id"] for i in opened)
    columns, rows = run(panel_sql(noc.annotation_sql, settings, RANGE, variables, options))
    assert columns == ["time", "timeEnd", "text"]
    for i in opened:
        (start, end, text), = [r for r in rows if r[2].startswith(f"att/{i['direction']}:")]
        assert start.timestamp() * 1000 == i["start_ms"] >= FAULT_START and end.timestamp() * 1000 == SIM_END
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
                           + ["provisioning/dashboards/cdrflow.yaml", "provisioning/datasources/cdrflow.yaml"]
                           + [f"provisioning/alerting/{name}" for name in alerting_files(Settings())])
    import yaml
    datasource = yaml.safe_load((tmp_path / "provisioning/datasources/cdrflow.yaml").read_text())["datasources"][0]
    assert (datasource["uid"], datasource["type"], datasource["jsonData"]["defaultDatabase"]) == \
        (DATASOURCE_UID, PLUGIN, "cdrflow")
    # the files in the repository are what build writes now: nobody edits them by hand
    from cdrflow.dashboards.build import OUT
    for path in written:
        assert (OUT / path.relative_to(tmp_path)).read_text() == path.read_text(), \
            f"run `cdrflow dashboards build`: {path}"


class FakeGrafana:
    """The Grafana HTTP API endpoints push uses, with state, on a real local HTTP server."""

    def __init__(self, httpserver):
        from werkzeug import Response

        self.folders, self.datasources, self.dashboards = {}, {}, {}
        self.Response = Response
        httpserver.expect_request(re.compile(r"^/api/.*")).respond_with_handler(self.handle)
        self.log = httpserver.log

    def reply(self, body, status=200):
        return self.Response(json.dumps(body), status=status, content_type="application/json")

    def handle(self, request):
        path, method = request.path, request.method
        if request.headers.get("Authorization") != "Bearer t0ken":
            return self.reply({"message": "Unauthorized"}, 401)
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            return self.reply(self.folders[uid]) if uid in self.folders else self.reply({"message": "not found"}, 404)
        if method == "POST" and path == "/api/folders":
            self.folders[request.json["uid"]] = request.json
            return self.reply(request.json)
        if path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if method == "PUT":
                self.datasources[uid] = request.json
            return self.reply(self.datasources[uid]) if uid in self.datasources else self.reply({"message": "nf"}, 404)
        if method == "POST" and path == "/api/datasources":
            self.datasources[request.json["uid"]] = request.json
            return self.reply({"datasource": request.json})
        if method == "POST" and path == "/api/dashboards/db":
            body = request.json
            uid = body["dashboard"]["uid"]
            if uid in self.dashboards and not body.get("overwrite"):
                return self.reply({"message": "exists"}, 412)
            self.dashboards[uid] = body
            return self.reply({"uid": uid, "status": "success"})
        return self.reply({"message": f"unexpected {method} {path}"}, 404)

    def calls(self) -> list[tuple[str, str]]:
        return [(request.method, request.path) for request, _ in self.log]


def test_push_is_idempotent_against_the_grafana_api(httpserver):
    from cdrflow.dashboards.push import push

    grafana = FakeGrafana(httpserver)
    url = httpserver.url_for("/").rstrip("/")
    uids = sorted(d.uid for d in all_dashboards(Settings()))
    assert sorted(push(url, credential="t0ken", clickhouse_password="s3cret")) == uids
    dashboards = [("POST", "/api/dashboards/db")] * len(uids)
    assert grafana.calls() == [("GET", "/api/folders/cdrflow"), ("POST", "/api/folders"),
                               ("GET", f"/api/datasources/uid/{DATASOURCE_UID}"), ("POST", "/api/datasources"),
                               *dashboards]
    datasource = grafana.datasources[DATASOURCE_UID]
    assert (datasource["type"], datasource["access"], datasource["secureJsonData"]) == \
           (PLUGIN, "proxy", {"password": "s3cret"})
    assert {b["folderUid"] for b in grafana.dashboards.values()} == {"cdrflow"}
    assert all(b["overwrite"] for b in grafana.dashboards.values())
    first = json.loads(json.dumps(grafana.dashboards))

    grafana.log.clear()
    push(url, credential="t0ken")      # again: updates in place, creates nothing
    assert grafana.calls() == [("GET", "/api/folders/cdrflow"), ("GET", f"/api/datasources/uid/{DATASOURCE_UID}"),
                               ("PUT", f"/api/datasources/uid/{DATASOURCE_UID}"), *dashboards]
    assert grafana.dashboards == first and len(grafana.folders) == 1 and len(grafana.datasources) == 1
    # without a password the stored one is kept: the update does not send secureJsonData
    assert "secureJsonData" not in grafana.datasources[DATASOURCE_UID]


def test_health_sampler_writes_increments_and_groups_dead_letter_reasons():
    from types import SimpleNamespace

    from cdrflow.schemas.envelope import DeadLetter
    from cdrflow.stream.health import HealthSampler

    stats, sampler = SimpleNamespace(cdrs_in=100, cdrs_stored=90, duplicates_skipped=10), HealthSampler("w")

    def letter(reason: str) -> DeadLetter:
        return DeadLetter(stage="decode", reason=reason, source="s", position="p", raw="")

    sampler.count_dead_letters([letter("invalid CDR: start_ms: Field required (1 error(s))"),
                                letter("invalid CDR: start_ms: Field required (3 error(s))"), letter("not JSON")])
    assert sampler.sample(stats, 7, at_s=0)[1:] == ["w", 100, 90, 10, {"invalid CDR: start_ms: Field required": 2,
                                                                     "not JSON": 1}, 7]
    stats.cdrs_in, stats.cdrs_stored = 150, 140
    assert sampler.sample(stats, None, at_s=10)[1:] == ["w", 50, 50, 0, {}, None]


def test_worker_samples_platform_health(settings, worker):
    """The real worker writes platform_health rows the Platform dashboard reads."""
    from cdrflow.producers.publisher import Publisher
    from cdrflow.producers.simulate import SimConfig, generate
    from cdrflow.producers.simulator_source import publish_stream

    from support.worker import query

    cfg = SimConfig(seed=3, start_ms=SIM_START, calls_per_second=5.0, interconnects=dict(settings.interconnects),
                    diurnal=False)
    publisher = Publisher(settings.kafka_bootstrap, settings)
    published = publish_stream(generate(cfg, count=2000), publisher, settings.batch_max_cdrs)
    publisher.close()
    worker.start()
    worker.wait_for(lambda s: s["cdrs_stored"] >= published, timeout_s=180)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        (stored, lag_seen), = query(settings, "SELECT sum(cdrs_stored), countIf(consumer_lag IS NOT NULL) "
                                              "FROM cdrflow.platform_health")
        if int(stored) == published and int(lag_seen) > 0:
            break
        time.sleep(1)
    assert int(stored) == published and int(lag_seen) > 0
