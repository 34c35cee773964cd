"""Two simulated hours for the dashboards: traffic with an incident the real detector opens, trunk
capacity and the alarms judged on it, a small number inventory and platform-health samples. Tests
run every panel on it, and `cdrflow dashboards preview --demo` draws it without a running pipeline."""
from __future__ import annotations

import time
from types import SimpleNamespace
from datetime import datetime, timezone

from clickhouse_connect.driver.client import Client

from cdrflow.clickhouse.sql import table
from cdrflow.infra.config import Settings
from cdrflow.dashboards.macros import TimeRange
from cdrflow.producers.simulate import Fault, SimConfig, as_written, generate
from cdrflow.schemas.envelope import DeadLetter
from cdrflow.incidents.detector import absorb, evaluate
from cdrflow.stream.health import HealthSampler, write_samples
from cdrflow.stream.enrich import Enricher
from cdrflow.incidents.store import load_baselines, store_incidents
from cdrflow.incidents.alarm_store import judge_minutes, load_book, measurements, store_alarms, store_noc_config
from cdrflow.incidents.partials import MINUTE_MS, partial_messages
from cdrflow.stream.sink import CdrWriter

SIM_START = 1_794_999_600_000                 # 2026-11-18 11:00 UTC
SIM_END = SIM_START + 120 * MINUTE_MS
FAULT_START = SIM_START + 95 * MINUTE_MS      # att's answers collapse and stay collapsed: the incident is open
DAY = 86_400_000
# channels for the demo's 3 calls/s: att's trunk runs at about 85 % of them, the others below 60 %
DEMO_TRUNK_CHANNELS = {"TG-VZ-01": 60, "TG-VZ-02": 60, "TG-ATT-01": 60, "TG-TMO-01": 90, "TG-LUMEN-01": 60,
                       "TG-BT-01": 30, "TG-ORANGE-01": 30, "TG-DTAG-01": 30, "TG-BW-01": 70}


def demo_range(dashboard_uid: str, interval_s: float = 120) -> TimeRange:
    """Where the demo's data lies for a dashboard: the simulated hours; the week ending with them
    for the day-by-day dashboards; the last two hours of wall-clock time for platform health."""
    if dashboard_uid == "cdrflow-platform":
        now_ms = int(time.time() * 1000)
        return TimeRange(now_ms - 120 * MINUTE_MS, now_ms + MINUTE_MS, interval_s)
    if dashboard_uid in ("cdrflow-trends", "cdrflow-numbers"):
        return TimeRange(SIM_END - 7 * DAY, SIM_END, 3600)
    return TimeRange(SIM_START, SIM_END, interval_s)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def _detect(client: Client, settings: Settings, stored: list[dict]) -> list[dict]:
    """The detector's own decisions over the stored calls, minute by minute; returns the incidents."""
    messages, _ = partial_messages(stored)
    state: dict[str, dict] = {}
    for key, message in messages.items():
        absorb(state.setdefault(key, {}), message, offset=0)
    baselines = load_baselines(client, settings, FAULT_START)
    incidents = {}
    for minute in range(FAULT_START - 10 * MINUTE_MS, SIM_END - MINUTE_MS, MINUTE_MS):
        for key in state:
            for event in evaluate(key, state[key], minute + MINUTE_MS, baselines.get(key),
                                  settings.thresholds(key.split("|")[0])):
                store_incidents(client, settings, [event["incident"]])
                incidents[event["incident"]["id"]] = event["incident"]
    return list(incidents.values())


def _numbers(client: Client, settings: Settings, stored: list[dict]) -> None:
    """A quarantine with a dirty number (still called) and a release candidate, and tracking numbers."""
    called: dict[str, int] = {}
    for c in stored:
        if c.get("called_e164") and c["record_kind"] != "start":
            called[c["called_e164"]] = called.get(c["called_e164"], 0) + 1
    busiest = sorted(called, key=lambda n: (-called[n], n))
    long_ago = _utc(SIM_START - 120 * DAY)
    rows = [(int(busiest[0][1:]), "disconnected", "acme", "", long_ago),       # dirty: many calls
            (19_999_000_001, "disconnected", "acme", "", long_ago)]            # release: never called
    rows += [(int(n[1:]), "in_service", "acme", channel, long_ago)
             for n, channel in zip(busiest[1:4], ("search", "radio", "billboard"))]
    client.insert(table("number_blocks", settings),
                  [[n, n, status, tenant, channel, since, "demo", i] for i, (n, status, tenant, channel, since)
                   in enumerate(rows)],
                  column_names=["first_number", "last_number", "status", "tenant", "channel", "status_since",
                                "source_file", "source_line"])


def _platform_health(client: Client, settings: Settings, now_ms: int) -> None:
    """A worker's samples, one a minute, over the last two hours of wall-clock time: platform health
    is about when the platform stored rows (cdr.stored_at is now too), not event time."""
    # the counters the sampler reads from the worker's WorkerStats (stream/worker_stats.py)
    stats = SimpleNamespace(cdrs_in=0, cdrs_stored=0, duplicates_skipped=0)
    sampler, rows = HealthSampler("worker-1"), []
    for m in range(120):
        stats.cdrs_in += 180
        stats.cdrs_stored += 178
        stats.duplicates_skipped += 2
        if m % 10 == 0:
            sampler.count_dead_letters([DeadLetter(stage="decode", reason="invalid CDR: start_ms: Field required "
                                                   "(1 error(s))", source="demo", position="demo", raw="")] * 2)
        rows.append(sampler.sample(stats, consumer_lag=40 + m % 7, at_s=(now_ms - (120 - m) * MINUTE_MS) / 1000))
    write_samples(client, settings, rows)


def _alarms(client: Client, settings: Settings) -> None:
    """The demo's capacity and the alarms judged over its hours, as the alarms agent would."""
    store_noc_config(client, settings, SIM_START)
    book, _ = load_book(client, settings)
    last = SIM_END - MINUTE_MS
    store_alarms(client, settings, judge_minutes(book, measurements(client, settings, SIM_START, last),
                                                 settings, SIM_START, last))


def load_demo(client: Client, settings: Settings, calls_per_second: float = 3.0) -> list[dict]:
    """Loads everything into a migrated ClickHouse; returns the incidents the detector left open."""
    fault = Fault("att", "answer_collapse", FAULT_START, SIM_END + 60 * MINUTE_MS)
    cfg = SimConfig(seed=6, start_ms=SIM_START, calls_per_second=calls_per_second,
                    interconnects=dict(settings.interconnects), faults=(fault,), diurnal=False)
    calls = [c for c in as_written(generate(cfg, until_ms=SIM_END)) if c["end_ms"] < SIM_END]
    enrich = Enricher(settings.home_region, settings.interconnects)
    stored = CdrWriter(client, settings).write(enrich(calls))
    incidents = _detect(client, settings, stored)
    _numbers(client, settings, stored)
    _alarms(client, settings.model_copy(update={"trunk_channels": DEMO_TRUNK_CHANNELS}))
    _platform_health(client, settings, int(time.time() * 1000))
    return [i for i in incidents if i["status"] == "open"]
