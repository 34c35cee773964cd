"""`cdrflow report`: the HTML report carries the figures the tenant views return, and its charts
are real PNG images embedded in the page."""
from __future__ import annotations

import base64
import io
import json
import re
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from cdrflow.cli.app import app
from cdrflow.tenants.report import VIEWS, parse_period, render_html
from cdrflow.tenants.views import view_query

from support.tenant_traffic import DAY0, TENANTS, generate, store

DAY = datetime.fromtimestamp(DAY0 / 1000, timezone.utc)


def test_parse_period():
    now = datetime(2026, 11, 23, 12, 30, tzinfo=timezone.utc)
    assert parse_period("7d", now) == (datetime(2026, 11, 16, 12, 30, tzinfo=timezone.utc), now)
    assert parse_period("24h", now)[0] == datetime(2026, 11, 22, 12, 30, tzinfo=timezone.utc)
    assert parse_period("2026-12") == \
           (datetime(2026, 12, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
    assert parse_period("2026-11-20")[1] == datetime(2026, 11, 21, tzinfo=timezone.utc)
    assert parse_period("2026-11-01..2026-11-15")[1] == datetime(2026, 11, 15, tzinfo=timezone.utc)
    for bad in ("last week", "2026-11-15..2026-11-01", "2026-13"):
        with pytest.raises(ValueError):
            parse_period(bad)


def _images(page: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def test_report_carries_the_view_figures_and_charts(clickhouse, tmp_path, monkeypatch):
    settings, client = clickhouse
    settings, _ = store(settings, client, generate(3000, days=3))
    monkeypatch.setenv("CDRFLOW_TENANTS", json.dumps({k: v.model_dump(mode="json") for k, v in TENANTS.items()}))
    start, end = DAY, DAY + timedelta(days=2)
    out = tmp_path / "acme.html"
    result = CliRunner().invoke(app, ["report", "acme", "--period", f"{start:%Y-%m-%d}..{end:%Y-%m-%d}",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()

    def ask(view):
        r = client.query(*view_query(settings, view, "acme", start, end))
        return [dict(zip(r.column_names, row)) for row in r.result_rows]

    [summary] = ask("summary")
    for key in ("calls", "incoming", "missed", "outgoing", "answered"):
        assert f"<td>{summary[key]:,}</td>" in page, key
    assert f"<td>{summary['cost']:,.2f}</td>" in page
    for row in ask("directions"):
        assert f"<td>{row['direction']}</td><td>{row['calls']:,}</td>" in page
        assert f"<td>{row['talk_s']:,.2f}</td><td>{row['cost']:,.2f}</td>" in page
    for row in ask("extensions"):
        assert f"<td>{row['extension']}</td><td>{row['outgoing']:,}</td><td>{row['incoming']:,}</td>" in page
    load = ask("channel_load")
    assert f"Peak concurrent calls: <b>{max(r['peak_concurrent'] for r in load)}</b> on 4 channels" in page
    busiest = max(load, key=lambda r: r["erlangs"])
    assert (f"<td>{busiest['bucket']:%Y-%m-%d %H:%M}</td><td>{busiest['calls']:,}</td>"
            f"<td>{busiest['peak_concurrent']}</td>"
            f"<td>{busiest['erlangs']:,.2f}</td><td>{busiest['blocking']:.4f}</td>") in page

    images = _images(page)
    assert len(images) == 4        # classes, directions, channel load, extensions
    for png in images:
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert imread(io.BytesIO(png), format="png").shape[0] > 100
    assert "http://" not in page and "https://" not in page      # self-contained


def test_report_renders_rows_as_the_worker_returns_them(clickhouse):
    """Through a worker the rows arrive as JSON (datetimes as text): the same page results."""
    settings, client = clickhouse
    settings, _ = store(settings, client, generate(500, days=1))
    start, end = DAY, DAY + timedelta(days=1)
    data = {}
    for view in VIEWS:
        r = client.query(*view_query(settings, view, "acme", start, end))
        data[view] = [dict(zip(r.column_names, row)) for row in r.result_rows]
    via_json = orjson.loads(orjson.dumps(data, default=str))
    assert render_html("acme", start, end, via_json, 4) == render_html("acme", start, end, data, 4)
