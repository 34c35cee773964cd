"""Charts of the tenant report as PNG bytes, drawn with matplotlib's object API (no pyplot: no
global figure state and no display backend, so it runs inside a worker or a test)."""
from __future__ import annotations

import io
from datetime import datetime

from matplotlib.figure import Figure

_SIZE = (8, 3.2)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return buffer.getvalue()


def bars(labels: list[str], values: list[float], title: str, unit: str = "", horizontal: bool = False) -> bytes:
    fig = Figure(figsize=_SIZE if not horizontal else (8, max(2.0, 0.3 * len(labels) + 1)))
    ax = fig.add_subplot()
    (ax.barh if horizontal else ax.bar)(labels, values, color="#4C72B0")
    if horizontal:
        ax.invert_yaxis()          # the largest first, as in the table
        ax.set_xlabel(unit)
    else:
        ax.set_ylabel(unit)
    ax.set_title(title)
    return _png(fig)


def channel_load(buckets: list[datetime], peak: list[int], erlangs: list[float], channels: int) -> bytes:
    """Peak concurrent calls and traffic (Erlangs) per interval against the tenant's channels."""
    fig = Figure(figsize=_SIZE)
    ax = fig.add_subplot()
    ax.step(buckets, peak, where="post", label="peak concurrent calls", color="#C44E52")
    ax.plot(buckets, erlangs, label="traffic (Erlangs)", color="#4C72B0")
    ax.axhline(channels, linestyle="--", color="grey", label=f"channels ({channels})")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title("Channel load")
    fig.autofmt_xdate()
    return _png(fig)
