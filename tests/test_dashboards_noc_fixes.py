"""The NOC dashboard's two readability fixes, on the simulated demo in embedded ClickHouse: the
minutes still filling are never drawn as a traffic drop, and the open-incidents table's columns
do not overlap in `cdrflow dashboards preview`."""
from __future__ import annotations

import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from cdrflow.dashboards.definitions import SETTLE_MINUTES, all_dashboards  # noqa: E402
from cdrflow.dashboards.macros import TimeRange  # noqa: E402
from cdrflow.dashboards.preview import default_selection, draw, on_client, option_values, panel_sql  # noqa: E402
from cdrflow.dashboards.simulated import SIM_END, SIM_START, load_demo  # noqa: E402
from cdrflow.incidents.actions import add_action  # noqa: E402

RANGE = TimeRange(SIM_START, SIM_END + 10 * 60_000, interval_s=60)


def noc_panel(clickhouse, title: str):
    settings, client = clickhouse
    noc = next(d for d in all_dashboards(settings) if d.uid == "cdrflow-noc")
    run = on_client(client)
    panel = next(p for p in noc.panels if p.title == title)
    return panel, run(panel_sql(panel.sql, settings, RANGE, default_selection(noc), option_values(run, noc, settings,
                                                                                                  RANGE)))


def test_minutes_still_filling_are_their_own_series_not_a_drop(clickhouse):
    settings, client = clickhouse
    load_demo(client, settings)
    panel, (columns, rows) = noc_panel(clickhouse, "Seizures and answered per minute")
    assert set(panel.columns) <= set(columns)
    def series(name: str) -> list[float]:
        return [r[columns.index(name)] for r in rows if r[columns.index(name)] is not None]

    settled, filling = series("seizures"), series("seizures (filling)")
    usual = statistics.median(settled)
    # the newest minutes lack the calls still in progress: drawn as traffic they would dip ...
    assert len(filling) == SETTLE_MINUTES and min(filling) < 0.8 * usual
    # ... so they are the dashed series, and the settled one ends at full height
    assert min(settled[-5:]) > 0.8 * usual
    newest_settled = max(r[0] for r in rows if r[columns.index("seizures")] is not None)
    assert all(r[0] > newest_settled for r in rows if r[columns.index("seizures (filling)")] is not None)


def test_open_incidents_table_columns_do_not_overlap_in_the_preview(clickhouse):
    settings, client = clickhouse
    opened = load_demo(client, settings)
    add_action(settings, opened[0]["id"], "ack", "ann")
    add_action(settings, opened[0]["id"], "note", "ann", "carrier ticket AT&T-4711: rerouted via verizon, waiting "
                                                          "for their NOC to confirm the SBC restart" * 2)
    panel, (columns, rows) = noc_panel(clickhouse, "Open incidents")
    assert len(rows) == 2
    noc = next(d for d in all_dashboards(settings) if d.uid == "cdrflow-noc")
    figure = draw(on_client(client), noc, settings, RANGE)       # what `cdrflow dashboards preview` saves
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    ax = next(a for a in figure.axes if a.get_title() == "Open incidents")
    (table,) = ax.tables
    cells = table.get_celld()
    assert table.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width + 1
    for (row, col), cell in cells.items():
        box, text = cell.get_window_extent(renderer), cell.get_text().get_window_extent(renderer)
        assert box.x0 - 0.5 <= text.x0 and text.x1 <= box.x1 + 0.5, (row, col, cell.get_text().get_text())
        if (row, col + 1) in cells:
            assert box.x1 <= cells[row, col + 1].get_window_extent(renderer).x0 + 0.5
    texts = [cells[1, c].get_text().get_text() for c in range(len(columns))] + \
            [cells[2, c].get_text().get_text() for c in range(len(columns))]
    assert opened[0]["id"][:8] in texts and "ann" in texts                   # ids as the CLI takes them
    assert any(t.startswith("carrier ticket") and t.endswith("…") for t in texts)
    plt.close(figure)
