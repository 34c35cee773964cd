"""Draws each dashboard's panels to a PNG with matplotlib, from the very SQL Grafana would run
(expanded by macros.expand), so a person without Grafana can see what the NOC sees."""
from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

from typing import Callable

from clickhouse_connect.driver.client import Client

from cdrflow.clickhouse.sql import fill
from cdrflow.infra.config import Settings

from .definitions import Dashboard, Panel
from .macros import ALL, TimeRange, expand

# sql → (column names, rows): a client in this process, or the worker that owns embedded ClickHouse
Runner = Callable[[str], tuple[list[str], list]]


def on_client(client: Client) -> Runner:
    def run(sql: str) -> tuple[list[str], list]:
        result = client.query(sql)
        return list(result.column_names), result.result_rows
    return run


def default_selection(d: Dashboard) -> dict[str, str | list[str]]:
    """What a dashboard opens with: All for query variables, the first option, the constants."""
    selection: dict[str, str | list[str]] = {}
    for v in d.variables:
        selection[v.name] = v.constant if v.constant is not None else v.custom[0][1] if v.custom else ALL
    return selection


def option_values(run: Runner, d: Dashboard, settings: Settings, time: TimeRange) -> dict[str, list[str]]:
    """What Grafana substitutes for All: each query variable's own result, expanded the same way."""
    return {v.name: [str(row[0]) for row in run(expand(_sql(v.query, settings), time))[1]]
            for v in d.variables if v.query}


def _sql(sql: str, settings: Settings) -> str:
    return fill(sql, settings)


def panel_sql(sql: str, settings: Settings, time: TimeRange, selection: dict, options: dict) -> str:
    return expand(_sql(sql, settings), time, selection, options)


def _series(columns: list[str], rows: list[tuple]) -> dict[str, tuple[list, list]]:
    """Long rows (time, labels…, values…) → {"label value": (times, values)}, as the plugin pivots them."""
    labels = [i for i, c in enumerate(columns[1:], 1) if rows and isinstance(rows[0][i], str)]
    values = [i for i in range(1, len(columns)) if i not in labels]
    out: dict[str, tuple[list, list]] = {}
    for row in rows:
        prefix = " ".join(row[i] for i in labels)
        for i in values:
            if row[i] is not None:
                times, ys = out.setdefault(f"{prefix} {columns[i]}".strip(), ([], []))
                times.append(row[0])
                ys.append(float(row[i]))
    return out


def _draw(ax, p: Panel, time: TimeRange, columns: list[str], rows: list[tuple]) -> None:
    ax.set_title(p.title, fontsize=9)
    if not rows:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    if p.kind == "stat":
        labels = [str(r[0]) for r in rows] if len(columns) > 1 else [columns[0]]
        values = [float(r[-1] or 0) for r in rows]
        colours = [next((c for v0, c in reversed(p.thresholds) if v0 is None or v >= v0), "grey") for v in values]
        ax.barh(labels, values, color=colours)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.1%}" if p.unit == "percentunit" else f" {v:g}", va="center", fontsize=7)
        ax.tick_params(labelsize=7)
    elif p.kind == "heatmap":
        names = sorted({r[1] for r in rows})
        times = sorted({r[0] for r in rows})
        grid = [[math.nan] * len(times) for _ in names]
        for t, name, value in rows:
            grid[names.index(name)][times.index(t)] = math.nan if value is None else float(value)
        image = ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1, interpolation="nearest",
                          extent=(0, len(times), len(names), 0))
        ax.set_yticks([i + 0.5 for i in range(len(names))], names, fontsize=6)
        ax.set_xticks([0, len(times)], [f"{times[0]:%H:%M}", f"{times[-1]:%H:%M}"], fontsize=7)
        ax.figure.colorbar(image, ax=ax)
    elif p.kind in ("table",):
        _table(ax, columns, rows)
    elif p.kind == "piechart":
        ax.pie([float(r[1]) for r in rows], labels=[str(r[0]) for r in rows], textprops={"fontsize": 7})
    elif p.kind == "barchart":
        ax.barh([str(r[0]) for r in rows][::-1], [float(r[1]) for r in rows][::-1])
        ax.tick_params(labelsize=7)
    else:   # timeseries
        dashed = [re.compile(regexp.strip("/")) for regexp, properties in p.overrides
                  if properties.get("custom.lineStyle", {}).get("fill") == "dash"]
        colours: dict[str, str] = {}
        for name, (times, ys) in sorted(_series(columns, rows).items())[:12]:
            is_dashed = any(r.search(name) for r in dashed)
            base = name.rsplit(" (", 1)[0] if is_dashed else name     # "seizures (filling)" → seizures' colour
            line, = ax.plot(times, ys, label=name, linewidth=1, marker="o" if len(times) < 3 else None,
                            linestyle="--" if is_dashed else "-", color=colours.get(base))
            colours.setdefault(base, line.get_color())
        ax.legend(fontsize=5, ncols=2)
        ax.tick_params(labelsize=7)
        if isinstance(rows[0][0], datetime):     # Grafana's x axis is the dashboard's time range
            ax.set_xlim(datetime.utcfromtimestamp(time.from_ms / 1000), datetime.utcfromtimestamp(time.to_ms / 1000))
            ax.figure.autofmt_xdate()


TABLE_ROWS = 10
CELL_CHARS = 28     # longer text is cut with "…"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _cell(value) -> str:
    if value is None:
        return "–"
    text = f"{value:%Y-%m-%d %H:%M}" if isinstance(value, datetime) else str(value)
    if _UUID.match(text):
        return text[:8]         # what `cdrflow incidents show/ack` take
    return text if len(text) <= CELL_CHARS else text[:CELL_CHARS - 1] + "…"


def _table(ax, columns: list[str], rows: list[tuple]) -> None:
    """Columns as wide as their text, the font shrunk until the table fits the panel's width."""
    ax.axis("off")
    shown = [[_cell(v) for v in r] for r in rows[:TABLE_ROWS]]
    table = ax.table(cellText=shown, colLabels=columns, loc="upper center", cellLoc="left")
    table.auto_set_font_size(False)
    table.auto_set_column_width(list(range(len(columns))))
    renderer = ax.figure.canvas.get_renderer()
    for size in (8, 7, 6, 5, 4):
        table.set_fontsize(size)
        table.auto_set_column_width(list(range(len(columns))))   # widths follow the font
        if table.get_window_extent(renderer).width <= ax.get_window_extent(renderer).width:
            break


def _layout(panels: tuple[Panel, ...]) -> list[list[Panel]]:
    """Grid rows as Grafana places them: a full-width panel (24) alone, the others two by two."""
    rows: list[list[Panel]] = []
    for p in panels:
        if p.width >= 24 or not rows or len(rows[-1]) == 2 or rows[-1][0].width >= 24:
            rows.append([p])
        else:
            rows[-1].append(p)
    return rows


def draw(run: Runner, d: Dashboard, settings: Settings, time: TimeRange):
    """The dashboard as one matplotlib Figure (the caller closes it)."""
    import matplotlib
    matplotlib.use("Agg")      # files only: no display on servers and in CI
    import matplotlib.pyplot as plt

    selection = default_selection(d)
    options = option_values(run, d, settings, time)
    layout = _layout(d.panels)
    figure = plt.figure(figsize=(14, 3.6 * len(layout)))
    grid = figure.add_gridspec(len(layout), 2)
    for row, panels in enumerate(layout):
        for column, p in enumerate(panels):
            ax = figure.add_subplot(grid[row, :] if p.width >= 24 else grid[row, column])
            _draw(ax, p, time, *run(panel_sql(p.sql, settings, time, selection, options)))
    figure.suptitle(f"{d.title}  ({datetime.utcfromtimestamp(time.from_ms / 1000):%Y-%m-%d %H:%M} – "
                    f"{datetime.utcfromtimestamp(time.to_ms / 1000):%H:%M} UTC)")
    figure.tight_layout()
    return figure


def render(run: Runner, d: Dashboard, settings: Settings, time: TimeRange, out: Path) -> Path:
    import matplotlib.pyplot as plt

    figure = draw(run, d, settings, time)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{d.uid}.png"
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
