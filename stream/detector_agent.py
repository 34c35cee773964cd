"""The detector agent: partials in, incident events out, through stream/detection.py's chain
(judge → store → announce); the decisions are incidents/detector.py's.

Every ingest take sends its partials step by step (incidents/partials.py), each step followed by a
watermark tick to every partials partition. Each partition keeps its own event time (its
senders' ticks, less the allowed lateness), and every JUDGE_EVERY_MS of it the closed minutes
and the running one of the interconnects whose partials it carries are judged. A decision is
dated by that event time, or by the newest call of the interconnect it had seen if later.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Any, Awaitable, Callable

import faust
import orjson

from cdrflow.infra.config import Settings

from cdrflow.incidents.partials import STEP_MS
from cdrflow.incidents.store import load_baselines, store_incidents
from cdrflow.stream.detection import AnnounceIncidents, Baselines, Judge, Publisher, StoreIncidents
from cdrflow.stream.detector_tables import DetectorTables
from cdrflow.stream.watermark import PartitionClock

JUDGE_EVERY_MS = STEP_MS    # event time between judgements: closed minutes and the running one


def add_detector(app: faust.App, settings: Settings, stats: Any, partials_topic: faust.TopicT,
                 incidents_topic: faust.TopicT, on_writer_thread: Callable[..., Awaitable],
                 clickhouse: Callable[[], Any]) -> None:
    """Adds the detector's state tables and agent to the worker app. stats: WorkerStats
    (watermark_ms is published once the incidents judged up to it are stored and sent)."""
    tables = DetectorTables(app, settings.partitions)    # "interconnect|direction" → detector state
    # Each partials partition has its own event time: the oldest of its senders' newest ticks (an
    # ingest worker sends its partials, then a tick, to the same partition, so once the tick is
    # read the partition's partials up to it are in). Judged per partition, an interconnect waits
    # for its own partition only: Faust reads partitions unevenly, tens of seconds apart.
    clocks: dict[int, PartitionClock] = defaultdict(PartitionClock)
    judged: dict[int, int] = {}          # partition → event time judged
    judge = Judge(tables, Baselines(lambda at_ms: on_writer_thread(lambda: load_baselines(clickhouse(), settings,
                                                                                            at_ms))),
                  settings.thresholds)
    publisher = Publisher(
        StoreIncidents(lambda incidents: on_writer_thread(lambda: store_incidents(clickhouse(), settings, incidents))),
        AnnounceIncidents(lambda key, value: incidents_topic.send(key=key, value=value), stats), stats)

    @app.agent(partials_topic)
    async def detect(stream):
        async for event in stream.events():
            message, partition = orjson.loads(event.value), event.message.partition
            key = message.get("key")
            if key is not None:
                tables.absorb(key, message, event.message.offset, partition)
            elif message.get("watermark_ms"):
                clocks[partition].read(message.get("from"), message["watermark_ms"], event.message.offset,
                                       time.monotonic())
                # event time less the allowed lateness: a minute is judged once its CDRs are all in
                newest = clocks[partition].watermark(time.monotonic(), lambda _sender: None)
                watermark = (newest or 0) - int(settings.detection_lateness_s * 1000)
                if watermark // JUDGE_EVERY_MS > judged.get(partition, 0) // JUDGE_EVERY_MS:
                    publisher.publish(await judge(partition, watermark), partition, watermark, clocks)
                    judged[partition] = watermark
