"""Number capacity: the inventory CSV → ClickHouse, and the quarantine / call-tracking questions.

Inventory CSV (header required): number,status,tenant,channel,status_since
- number: one number, or a block FIRST..LAST (both ends in any format phonenumbers reads)
- status: in_service | disconnected | free;  status_since: ISO date or date-time (UTC if no offset)
Each row is one status change; importing a file adds to the history, it does not replace it.
"""
from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from cdrflow.clickhouse.sql import query, utc
from cdrflow.infra.config import Settings
from cdrflow.schemas.e164 import e164_normaliser

COLUMNS = ("number", "status", "tenant", "channel", "status_since")
STATUSES = ("in_service", "disconnected", "free")
MAX_BLOCK = 10_000_000  # a larger block is a typo, not an allocation
VERDICTS = ("release", "dirty", "waiting")


class InventoryError(ValueError):
    """Rows that cannot be imported, as 'line N: reason'; nothing of the file was imported."""

    def __init__(self, source: str, errors: list[str]):
        self.errors = errors
        super().__init__(f"{source}: {len(errors)} bad row(s), nothing imported\n" + "\n".join(errors[:50]))


@dataclass(frozen=True)
class Block:
    first: int          # E.164 digits as an integer
    last: int
    status: str
    tenant: str
    channel: str
    since: datetime     # UTC
    line: int


def parse_since(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip())
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def parse_block(number: str, e164) -> tuple[int, int]:
    ends = number.split("..")
    if len(ends) > 2:
        raise ValueError(f"bad block {number!r}: want FIRST..LAST")
    normalised = [e164(end.strip()) for end in ends]
    for end, norm in zip(ends, normalised):
        if norm is None:
            raise ValueError(f"not a possible phone number: {end.strip()!r}")
    first, last = (int(n[1:]) for n in (normalised[0], normalised[-1]))
    if len(normalised[0]) != len(normalised[-1]) or last < first:
        raise ValueError(f"bad block {number!r}: ends differ in length or are reversed")
    if last - first + 1 > MAX_BLOCK:
        raise ValueError(f"block {number!r} holds {last - first + 1} numbers, more than {MAX_BLOCK}")
    return first, last


def parse_inventory(lines: Iterable[str], home_region: str, source: str = "inventory") -> list[Block]:
    """CSV lines → blocks; raises InventoryError listing every bad row (so nothing is half-imported)."""
    e164 = e164_normaliser(home_region, cache_size=1024)
    reader = csv.reader(lines)
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header) != COLUMNS:
        raise InventoryError(source, [f"line 1: header must be {','.join(COLUMNS)}, got {','.join(header)!r}"])
    blocks, errors = [], []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        try:
            if len(row) != len(COLUMNS):
                raise ValueError(f"{len(row)} columns, want {len(COLUMNS)}")
            number, status, tenant, channel, since = (cell.strip() for cell in row)
            if status not in STATUSES:
                raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
            first, last = parse_block(number, e164)
            blocks.append(Block(first, last, status, tenant, channel, parse_since(since), line))
        except ValueError as exc:
            errors.append(f"line {line}: {exc}")
    if errors:
        raise InventoryError(source, errors)
    return blocks


Run = Callable[[str, dict], Any]   # (sql, parameters) → result


def import_inventory(run: Run, settings: Settings, path: Path) -> tuple[int, int]:
    """Imports the whole file in one insert, or nothing; returns (blocks, numbers)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        blocks = parse_inventory(fh, settings.home_region, source=str(path))
    if blocks:
        rows = "\n".join(json.dumps({
            "first_number": b.first, "last_number": b.last, "status": b.status, "tenant": b.tenant,
            "channel": b.channel, "status_since": utc(b.since), "source_file": str(path),
            "source_line": b.line}) for b in blocks)
        run(query("inventory_import", settings), {"rows": rows})
    return len(blocks), sum(b.last - b.first + 1 for b in blocks)


def release_candidates_query(settings: Settings, as_of: datetime | None = None, max_calls: int | None = None,
                             window_days: int | None = None, min_days: int | None = None,
                             verdicts: Iterable[str] = ("release", "dirty"),
                             use_checkpoint: bool = True) -> tuple[str, dict]:
    """Disconnected numbers with their verdict; None arguments take Settings' quarantine defaults.
    The answer is the same with or without the checkpoint; use_checkpoint=False asks the day table."""
    return query("release_candidates", settings), {
        "as_of": utc(as_of or datetime.now(timezone.utc)),
        "max_calls": settings.quarantine_max_calls if max_calls is None else max_calls,
        "window_days": _window_days(settings, window_days),
        "min_days": settings.quarantine_min_days if min_days is None else min_days,
        "verdicts": list(verdicts),
        "use_checkpoint": int(use_checkpoint),
    }


def _window_days(settings: Settings, window_days: int | None) -> int:
    return settings.quarantine_window_days if window_days is None else window_days


@dataclass(frozen=True)
class Checkpoint:
    day: date
    window_days: int
    numbers: int
    build_s: float
    built: bool         # False: one for this day and window was there already


def build_checkpoint(run: Run, settings: Settings, as_of: datetime | None = None, window_days: int | None = None,
                     rebuild: bool = False) -> Checkpoint:
    """The quarantine counts of the window's days before as_of's day, for release-candidate
    questions asked on that day (number_quarantine_counts, migrations/0011). Once a day is enough:
    status changes and late hits since are recounted at question time."""
    window = _window_days(settings, window_days)
    params = {"as_of": utc(as_of or datetime.now(timezone.utc)), "window_days": window}
    day = date.fromisoformat(params["as_of"][:10])     # the UTC day the checkpoint serves
    # taken_at: the server's clock before the build reads anything. Rows inserted since (less the
    # commit lag) may be missing from the checkpoint: their numbers are recounted at question time.
    (taken_at, numbers), = _rows(run(query("quarantine_checkpoint_state", settings), params))
    if numbers is not None and not rebuild:
        return Checkpoint(day, window, numbers, 0.0, built=False)
    if day > date.fromisoformat(taken_at[:10]):
        raise ValueError(f"a checkpoint for {day} can only be built once that day has begun")
    params["taken_at"] = taken_at
    started = time.perf_counter()
    run(query("quarantine_checkpoint", settings), params)
    build_s = time.perf_counter() - started
    run(query("quarantine_checkpoint_done", settings),
        {**params, "commit_lag_s": settings.quarantine_checkpoint_commit_lag_s, "build_s": build_s})
    (_, numbers), = _rows(run(query("quarantine_checkpoint_state", settings), params))
    return Checkpoint(day, window, numbers, build_s, built=True)


def _rows(result) -> list:
    """Rows of a query result from a clickhouse-connect client or the worker's (columns, rows)."""
    return result.result_rows if hasattr(result, "result_rows") else result[1]


def call_tracking_query(settings: Settings, since: date, until: date, tenant: str = "") -> tuple[str, dict]:
    return query("call_tracking", settings), {"since": since, "until": until, "tenant": tenant}
