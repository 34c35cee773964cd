"""A rich renderable drawn to PNG as a terminal shows it: the README's picture of `cdrflow up`'s
live view (`cdrflow up --screenshot FILE`). Drawn with matplotlib, already a dependency for the
dashboard previews, in DejaVu Sans Mono (it ships with matplotlib and has the box-drawing glyphs)."""
from __future__ import annotations

import io
from pathlib import Path

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.terminal_theme import MONOKAI

FONT_PT = 11
CHAR_IN = 0.602 * FONT_PT / 72       # DejaVu Sans Mono's advance width: 0.602 em
LINE_IN = 1.2 * FONT_PT / 72
MARGIN_IN = 0.2


def screenshot_png(renderable: RenderableType, path: Path, width: int = 120) -> None:
    from matplotlib.figure import Figure

    console = Console(width=width, file=io.StringIO(), color_system="truecolor", force_terminal=True)
    lines = console.render_lines(renderable, console.options, pad=False)
    background, foreground = MONOKAI.background_color.hex, MONOKAI.foreground_color.hex
    size = (width * CHAR_IN + 2 * MARGIN_IN, len(lines) * LINE_IN + 2 * MARGIN_IN)
    figure = Figure(figsize=size, facecolor=background)
    for row, line in enumerate(lines):
        column = 0
        for segment in line:
            if segment.control or not segment.text:
                continue
            style = segment.style
            color = style.color.get_truecolor(MONOKAI).hex if style and style.color else foreground
            weight = "bold" if style and style.bold else "normal"
            for char in segment.text:   # one glyph at a time: columns stay exact whatever the font's kerning
                if not char.isspace():
                    figure.text((MARGIN_IN + column * CHAR_IN) / size[0], 1 - (MARGIN_IN + row * LINE_IN) / size[1],
                                char, family="DejaVu Sans Mono", size=FONT_PT, color=color, va="top", weight=weight)
                column += cell_len(char)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110, facecolor=background)
