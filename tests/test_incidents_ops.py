"""Ops' workflow on an incident, on embedded ClickHouse through the CLI users type: acknowledge it,
add notes, and find both in the escalation report (Markdown, HTML, JSON files) and in the NOC
dashboard's open-incidents table."""
from __future__ import annotations

import json

import pytest
from cdrflow.cli.app import app
from cdrflow.dashboards.definitions import all_dashboards
from cdrflow.dashboards.macros import TimeRange
from cdrflow.dashboards.preview import default_selection, on_client, option_values, panel_sql
from cdrflow.incidents.store import store_incidents
from typer.testing import CliRunner

START_MS = 1_795_003_200_000        # 2026-11-18 12:00 UTC
INCIDENT = {"id": "5536cfcf-1111-5000-8000-000000000001", "version": 3, "status": "open", "interconnect": "att",
            "direction": "out", "kinds": ["asr_drop"], "severity": "major", "start_ms": START_MS, "end_ms": None,
            "updated_ms": START_MS + 300_000, "lost_calls": 12.0, "baseline": None, "worst": None, "samples": []}
OTHER = dict(INCIDENT, id="5536cfcf-2222-5000-8000-000000000002", interconnect="verizon")


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def incidents(clickhouse):
    settings, client = clickhouse
    store_incidents(client, settings, [INCIDENT, OTHER])
    return clickhouse


def test_ack_and_notes_show_in_the_report_files_and_the_dashboard(incidents, tmp_path):
    settings, client = incidents
    assert "acknowledged incident 5536cfcf-1111" in cli("incidents", "ack", "5536cfcf-1", "--by", "ann")
    cli("incidents", "note", "5536cfcf-1", "AT&T ticket 4711 | escalated", "--by", "bob")
    cli("incidents", "note", "5536cfcf-1", "reroute to verizon done", "--by", "ann")
    cli("incidents", "ack", "5536cfcf-1", "--by", "carl")     # a second ack is kept; the first one counts

    md, html, js = tmp_path / "report.md", tmp_path / "report.html", tmp_path / "report.json"
    for path in (md, html, js):
        assert f"wrote {path}" in cli("incidents", "show", "5536cfcf-1", "--output", str(path)).replace("\n", "")
    text = md.read_text()
    assert "**Acknowledged** by ann at " in text
    assert "| note | bob | AT&T ticket 4711 \\| escalated |" in text      # the pipe stays inside its cell
    assert text.index("AT&T ticket 4711") < text.index("reroute to verizon done")
    page = html.read_text()
    assert page.startswith("<!doctype html>") and "<td>AT&amp;T ticket 4711 | escalated</td>" in page
    assert "<strong>Acknowledged</strong> by ann" in page
    actions = json.loads(js.read_text())["actions"]
    assert [(a["action"], a["by"]) for a in actions] == [("ack", "ann"), ("note", "bob"), ("note", "ann"),
                                                         ("ack", "carl")]

    noc = next(d for d in all_dashboards(settings) if d.uid == "cdrflow-noc")
    window = TimeRange(START_MS - 3_600_000, START_MS + 3_600_000, interval_s=60)
    run = on_client(client)
    table = next(p for p in noc.panels if p.title == "Open incidents")
    columns, rows = run(panel_sql(table.sql, settings, window, default_selection(noc),
                                  option_values(run, noc, settings, window)))
    shown = {r[columns.index("id")]: (r[columns.index("acked_by")], r[columns.index("last_note")]) for r in rows}
    assert shown == {INCIDENT["id"]: ("ann", "reroute to verizon done"), OTHER["id"]: (None, None)}


def test_unknown_ambiguous_and_empty_are_refused(incidents):
    for args, reason in ((("ack", "ffff", "--by", "ann"), "no incident"),
                         (("ack", "5536cfcf", "--by", "ann"), "several incidents"),
                         (("note", "5536cfcf-2", "  "), "a note needs text"),
                         (("show", "5536cfcf-2", "--output", "report.pdf"), ".md, .html or .json")):
        result = CliRunner().invoke(app, ["incidents", *args])
        assert result.exit_code == 1 and reason in result.output, result.output
