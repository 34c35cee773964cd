"""The alarms agent: NOC alarms (incidents/alarms.py) judged on one worker, stored, then announced.

One worker (the group's leader) judges, every alarms_judge_every_s of wall time, each minute of
event time it has not judged yet, up to the detector's watermark (stats.watermark_ms: every CDR
that ended before it is stored). The rules read ClickHouse (calls in progress, trunk load, calls
to premium prefixes), so every worker's CDRs count. Alarm versions go to the `alarms` table, then
to the alarms topic (Settings.topic_alarms), keyed by alarm id: stored before announced, in order.

With several workers the leader's watermark is that of the partials partitions it reads; other
workers' CDRs count as far as they are stored by then (the partitions' event times run close
together), and a minute is not judged again for CDRs that arrive after its judgement.

State lives in ClickHouse: a restarted or newly elected leader reads the open alarms and every
id reported, and judges on from the newest judgement that reported one; a breach judged again
finds its alarm by id instead of opening another.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

import faust
import orjson

from cdrflow.infra.config import Settings

from cdrflow.incidents.alarm_store import (MAX_CATCH_UP_MS, judge_minutes, load_book, measurements,
                                           store_alarms, store_noc_config)
from cdrflow.incidents.alarms import MINUTE_MS, AlarmBook

log = logging.getLogger("cdrflow.alarms")


def add_alarms(app: faust.App, settings: Settings, stats: Any, on_writer_thread: Callable[..., Awaitable],
               clickhouse: Callable[[], Any]) -> None:
    """Adds the alarms topic and timer to the worker app; stats.alarm_events counts the events sent."""
    alarms_topic = app.topic(settings.topic_alarms, value_serializer="raw", key_serializer="raw", partitions=1)
    state: dict[str, Any] = {}       # "book": AlarmBook, "judged": event time judged (ms)

    async def start() -> None:
        def load() -> tuple[AlarmBook, int]:
            store_noc_config(clickhouse(), settings, int(time.time() * 1000))
            return load_book(clickhouse(), settings)
        state["book"], state["judged"] = await on_writer_thread(load)

    @app.timer(interval=settings.alarms_judge_every_s, on_leader=True)
    async def judge_alarms() -> None:
        try:
            if "book" not in state:
                await start()
            at_ms = stats.watermark_ms // MINUTE_MS * MINUTE_MS
            if not at_ms:
                return
            previous = max(state["judged"], at_ms - MAX_CATCH_UP_MS)
            if at_ms <= previous:
                return
            measured = await on_writer_thread(
                lambda: measurements(clickhouse(), settings, previous + MINUTE_MS, at_ms))
            events = judge_minutes(state["book"], measured, settings, previous, at_ms)
            if events:
                await on_writer_thread(lambda: store_alarms(clickhouse(), settings, events))
                for event in events:
                    await alarms_topic.send(key=event["id"].encode(), value=orjson.dumps(event))
            state["judged"] = at_ms
            stats.alarm_events += len(events)
        except Exception:  # noqa: BLE001 - judged again at the next tick, from the stored state
            log.exception("judging alarms failed")
            state.clear()
