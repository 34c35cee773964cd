"""What NOC, ops and number management look at: every dashboard's variables, panels and SQL.

SQL is written for the ClickHouse datasource plugin: its macros for time, Grafana template
variables for selections, {database} filled at build time. Ratios (ASR, NER, ACD, PDD) come only
from the interconnect_quality view, so a panel never disagrees with the detector or the CLI.
Each panel lists the columns its visualisation needs; the tests hold every query to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TIME_SERIES, TABLE = 0, 1          # the plugin's query formats


@dataclass(frozen=True)
class Variable:
    name: str
    query: str = ""                # SQL (query variable); 1 column = values
    custom: tuple[tuple[str, str], ...] = ()   # (text, value) options of a custom variable
    constant: str | None = None    # a hidden constant (filled from Settings at build time)
    multi: bool = True
    include_all: bool = True


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str                      # Grafana panel type
    sql: str
    columns: tuple[str, ...]       # what the visualisation reads; queries must return them
    format: int = TIME_SERIES
    width: int = 12
    height: int = 8
    unit: str | None = None
    thresholds: tuple[tuple[float | None, str], ...] = ()   # (from value, colour); first is the base
    options: dict = field(default_factory=dict)
    custom: dict = field(default_factory=dict)
    overrides: tuple[tuple[str, dict], ...] = ()   # (regexp of series names, {property id: value})


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    panels: tuple[Panel, ...]
    variables: tuple[Variable, ...] = ()
    annotation_sql: str | None = None
    time_from: str = "now-6h"
    refresh: str = "1m"


INTERCONNECTS = Variable("interconnect", "SELECT DISTINCT interconnect FROM {database}.interconnect_minute "
                                         "WHERE $__timeFilter(minute) ORDER BY interconnect")
DIRECTIONS = Variable("direction", "SELECT arrayJoin(['in', 'out'])")
# The selection as a WHERE condition; `prefix` qualifies the columns in joins.
def selected(prefix: str = "") -> str:
    return (f"$__conditionalAll({prefix}interconnect IN (${{interconnect}}), $interconnect) "
            f"AND $__conditionalAll(toString({prefix}direction) IN (${{direction}}), $direction)")


def quality(bucket: str) -> str:
    return f"{{database}}.interconnect_quality(from = $__fromTime, to = $__toTime, bucket_s = {bucket})"


SERIES = "concat(interconnect, '/', toString(direction))"
# Minutes this close to the newest stored one still fill as calls in progress end (as `up`'s live view)
SETTLE_MINUTES = 5
FILLING = r"/\(filling\)$/"
# ASR below the usual levels of DOMAIN.md is red; NER is judged stricter (it excludes user causes).
ASR_STEPS = ((None, "red"), (0.3, "orange"), (0.45, "green"))
NER_STEPS = ((None, "red"), (0.8, "orange"), (0.9, "green"))
INCIDENT_COLUMNS = "toString(id) AS id, interconnect, toString(direction) AS direction, status, " \
                   "arrayStringConcat(kinds, ', ') AS kinds, severity, start_time, end_time, " \
                   "round(lost_calls) AS lost_calls"
# who acknowledged an incident first, and its newest note (`cdrflow incidents ack` / `note`)
INCIDENT_ACTIONS = "nullIf(a.acked_by, '') AS acked_by, nullIf(a.last_note, '') AS last_note"
INCIDENT_ACTIONS_BY_ID = """(SELECT incident_id, argMinIf(by, at, action = 'ack') AS acked_by,
        argMaxIf(text, at, action = 'note') AS last_note
    FROM {database}.incident_actions GROUP BY incident_id)"""
INCIDENT_ANNOTATIONS = f"""
SELECT start_time AS time, ifNull(end_time, $__toTime) AS timeEnd,
       concat({SERIES}, ': ', arrayStringConcat(kinds, ', '), ' (', severity, ', ', toString(status),
              ', ~', toString(round(lost_calls)), ' calls lost)') AS text
FROM {{database}}.incidents FINAL
WHERE start_time <= $__toTime AND ifNull(end_time, $__toTime) >= $__fromTime AND {selected()}
ORDER BY time"""

def _ratio_now(ratio: str, steps) -> Panel:
    """One coloured stat per interconnect and direction: the ratio over the last 15 minutes."""
    return Panel(f"{ratio.upper()}, last 15 minutes", "stat", format=TABLE, unit="percentunit", thresholds=steps,
                 height=5, columns=("series", ratio),
                 options={"reduceOptions": {"values": True, "calcs": [], "fields": f"/^{ratio}$/"},
                          "colorMode": "background", "textMode": "value_and_name"},
                 sql=f"""SELECT {SERIES} AS series, {ratio}
FROM {{database}}.interconnect_quality(from = $__toTime - 900, to = $__toTime, bucket_s = 0)
WHERE {selected()} ORDER BY series""")


def _ratio_heatmap(ratio: str) -> Panel:
    """Interconnect × time, one cell per bucket (at least a minute: the aggregates' resolution)."""
    return Panel(f"{ratio.upper()} by interconnect", "heatmap", columns=("time", "series", ratio), unit="percentunit",
                 options={"calculate": False, "yAxis": {"axisPlacement": "left"},
                          "color": {"scheme": "RdYlGn", "min": 0, "max": 1}},
                 sql=f"""SELECT bucket AS time, {SERIES} AS series, {ratio}
FROM {quality('greatest($__interval_s, 60)')}
WHERE {selected()} ORDER BY time, series""")


# Calls in progress, trunk capacity and NOC alarms (clickhouse/migrations/0013_noc.sql). Formats that
# write end records only show a call once it ended: the series' right edge fills in as calls end.
_TRUNK_LOAD = "{{database}}.trunk_load(from = {start}, to = $__toTime, bucket_s = {bucket})"
ALARM_COLUMNS = ("kind", "subject", "status", "since", "updated_at", "summary")
CAPACITY_PANELS = (
    Panel("Calls in progress", "timeseries", columns=("time", "series", "calls"), width=24,
          sql="""SELECT at AS time, concat(name, '/', direction) AS series, calls
FROM {database}.calls_in_progress_series(from = $__fromTime, to = $__toTime, step_s = greatest($__interval_s, 60))
WHERE dimension = 'interconnect' AND $__conditionalAll(name IN (${interconnect}), $interconnect)
  AND $__conditionalAll(direction IN (${direction}), $direction)
ORDER BY time, series"""),
    Panel("Trunk group utilisation (peak of the interval)", "timeseries", unit="percentunit",
          columns=("time", "trunk", "utilisation"), thresholds=((None, "green"), (0.8, "orange"), (0.95, "red")),
          custom={"thresholdsStyle": {"mode": "line"}},
          sql=f"""SELECT bucket AS time, trunk, utilisation
FROM {_TRUNK_LOAD.format(start="$__fromTime", bucket="greatest($__interval_s, 60)")}
WHERE channels > 0 ORDER BY time, trunk"""),
    Panel("Busy hour per trunk group: offered Erlangs and Erlang B blocking", "table", format=TABLE,
          columns=("day", "trunk", "busy_hour", "busy_hour_erlangs", "peak_calls", "trunk_channels", "blocking_pct"),
          sql=f"""SELECT toDate(bucket) AS day, trunk, argMax(bucket, erlangs) AS busy_hour,
       round(max(erlangs), 1) AS busy_hour_erlangs, argMax(peak_concurrent, erlangs) AS peak_calls,
       any(channels) AS trunk_channels, round(100 * argMax(blocking, erlangs), 2) AS blocking_pct
FROM {_TRUNK_LOAD.format(start="toStartOfHour($__fromTime)", bucket="3600")}
WHERE channels > 0 GROUP BY day, trunk ORDER BY day DESC, blocking_pct DESC, trunk"""),
    Panel("Alarms: open, and resolved in the range", "table", format=TABLE, width=24, columns=ALARM_COLUMNS,
          sql="""SELECT kind, subject, toString(status) AS status, since, updated_at,
       arrayStringConcat(arrayMap(kv -> concat(kv.1, '=', kv.2),
           JSONExtractKeysAndValuesRaw(JSONExtractRaw(detail, 'detail'))), ' ') AS summary
FROM {database}.alarms FINAL
WHERE since <= $__toTime AND (status != 'resolved' OR updated_at >= $__fromTime)
ORDER BY status = 'resolved', since DESC"""),
)

NOC = Dashboard("cdrflow-noc", "NOC availability", variables=(INTERCONNECTS, DIRECTIONS),
                annotation_sql=INCIDENT_ANNOTATIONS, refresh="30s", panels=(
    _ratio_now("asr", ASR_STEPS), _ratio_now("ner", NER_STEPS),
    _ratio_heatmap("asr"), _ratio_heatmap("ner"),
    # Minutes are seizure minutes and a CDR arrives when its call ends, so the newest minutes still
    # lack their calls in progress (the running one most): drawn as they were, they look like a
    # traffic drop. Buckets with a minute within SETTLE_MINUTES of the newest stored one are their
    # own dashed "(filling)" series; the settled series ends before them.
    Panel("Seizures and answered per minute", "timeseries", width=24,
          columns=("time", "seizures", "answered", "seizures (filling)", "answered (filling)"),
          overrides=((FILLING, {"custom.lineStyle": {"fill": "dash", "dash": [10, 10]}}),),
          sql=f"""WITH (SELECT max(minute) FROM {{database}}.interconnect_minute)
     - INTERVAL {SETTLE_MINUTES} MINUTE AS settled
SELECT $__timeInterval(minute) AS time,
       if((max(m.minute) <= settled) AS done, sum(m.seizures), NULL) / greatest($__interval_s / 60, 1) AS seizures,
       if(done, sum(m.answered), NULL) / greatest($__interval_s / 60, 1) AS answered,
       if(done, NULL, sum(m.seizures)) / greatest($__interval_s / 60, 1) AS `seizures (filling)`,
       if(done, NULL, sum(m.answered)) / greatest($__interval_s / 60, 1) AS `answered (filling)`
FROM {{database}}.interconnect_minute AS m
WHERE $__timeFilter(minute) AND {selected()}
GROUP BY time ORDER BY time"""),
    Panel("Open incidents", "table", format=TABLE, width=24, height=10,
          columns=("id", "interconnect", "direction", "kinds", "severity", "start_time", "lost_calls", "acked_by",
                   "last_note"),
          sql=f"""SELECT {INCIDENT_COLUMNS}, {INCIDENT_ACTIONS}
FROM {{database}}.incidents AS i FINAL
LEFT JOIN {INCIDENT_ACTIONS_BY_ID} AS a ON a.incident_id = i.id
WHERE status = 'open' AND start_time <= $__toTime AND {selected()}
ORDER BY start_time DESC"""),
    *CAPACITY_PANELS,
))

DRILL_DOWN = Dashboard("cdrflow-interconnect", "Interconnect drill-down", variables=(INTERCONNECTS, DIRECTIONS),
                       annotation_sql=INCIDENT_ANNOTATIONS, panels=(
    # baseline: the same view over the 7 days before the range, one bucket per interconnect and direction
    Panel("ASR and NER against the 7-day baseline", "timeseries", unit="percentunit",
          columns=("time", "series", "asr", "ner", "asr_baseline", "ner_baseline"),
          sql=f"""SELECT q.bucket AS time, concat(q.interconnect, '/', toString(q.direction)) AS series,
       q.asr AS asr, q.ner AS ner, b.asr AS asr_baseline, b.ner AS ner_baseline
FROM {quality('greatest($__interval_s, 60)')} AS q
LEFT JOIN {{database}}.interconnect_quality(from = $__fromTime - INTERVAL 7 DAY, to = $__fromTime, bucket_s = 0) AS b
    ON b.interconnect = q.interconnect AND b.direction = q.direction
WHERE {selected('q.')} ORDER BY time, series"""),
    Panel("ACD and PDD against the 7-day baseline", "timeseries",
          columns=("time", "series", "acd_s", "pdd_avg_s", "acd_baseline_s", "pdd_baseline_s"),
          sql=f"""SELECT q.bucket AS time, concat(q.interconnect, '/', toString(q.direction)) AS series,
       q.acd_s AS acd_s, q.pdd_avg_ms / 1000 AS pdd_avg_s,
       b.acd_s AS acd_baseline_s, b.pdd_avg_ms / 1000 AS pdd_baseline_s
FROM {quality('greatest($__interval_s, 60)')} AS q
LEFT JOIN {{database}}.interconnect_quality(from = $__fromTime - INTERVAL 7 DAY, to = $__fromTime, bucket_s = 0) AS b
    ON b.interconnect = q.interconnect AND b.direction = q.direction
WHERE {selected('q.')} ORDER BY time, series"""),
    Panel("Q.850 causes", "timeseries", columns=("time", "cause", "calls"),
          custom={"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80},
          sql=f"""SELECT $__timeInterval(minute) AS time, toString(cause) AS cause, sum(n) AS calls
FROM {{database}}.interconnect_minute ARRAY JOIN mapKeys(causes) AS cause, mapValues(causes) AS n
WHERE $__timeFilter(minute) AND {selected()}
GROUP BY time, cause ORDER BY time, cause"""),
    Panel("SIP final responses", "barchart", format=TABLE, columns=("sip_code", "calls"),
          options={"xField": "sip_code", "orientation": "horizontal"},
          sql=f"""SELECT toString(code) AS sip_code, sum(n) AS calls
FROM {{database}}.interconnect_minute ARRAY JOIN mapKeys(sip_codes) AS code, mapValues(sip_codes) AS n
WHERE $__timeFilter(minute) AND {selected()}
GROUP BY sip_code ORDER BY calls DESC"""),
    Panel("Incident history", "table", format=TABLE, width=24,
          columns=("id", "interconnect", "direction", "status", "kinds", "start_time", "end_time", "lost_calls"),
          sql=f"""SELECT {INCIDENT_COLUMNS}
FROM {{database}}.incidents FINAL
WHERE start_time <= $__toTime AND ifNull(end_time, $__toTime) >= $__fromTime AND {selected()}
ORDER BY start_time DESC"""),
))

PERIOD = Variable("period", custom=(("day", "DAY"), ("week", "WEEK"), ("month", "MONTH")), multi=False,
                  include_all=False)
# Minutes each interconnect spent in an incident, per period; an open incident lasts until the range end.
_DOWN_MINUTES = f"""SELECT toStartOfInterval(m, INTERVAL 1 ${{period}}) AS time, interconnect, uniqExact(m) AS minutes
    FROM (SELECT interconnect,
                 arrayJoin(arrayMap(s -> toDateTime(s, 'UTC'), range(toUInt32(toStartOfMinute(start_time)),
                                                                   toUInt32(ifNull(end_time, $__toTime)), 60))) AS m
          FROM {{database}}.incidents FINAL WHERE {selected()})
    WHERE $__timeFilter(m) GROUP BY time, interconnect"""
# Minutes the platform saw traffic at all, per period: an interconnect whose traffic vanished still counts.
_WATCHED_MINUTES = """SELECT toStartOfInterval(minute, INTERVAL 1 ${period}) AS time, uniqExact(minute) AS minutes
    FROM {database}.interconnect_minute WHERE $__timeFilter(minute) GROUP BY time"""

TRENDS = Dashboard("cdrflow-trends", "Availability trends", variables=(INTERCONNECTS, DIRECTIONS, PERIOD),
                   time_from="now-90d", refresh="15m", panels=(
    Panel("Availability per interconnect (1 − incident minutes / watched minutes)", "timeseries", unit="percentunit",
          columns=("time", "interconnect", "availability"), thresholds=((None, "red"), (0.999, "green")),
          custom={"thresholdsStyle": {"mode": "line"}},
          sql=f"""WITH watched AS ({_WATCHED_MINUTES}),
     down AS ({_DOWN_MINUTES}),
     seen AS (SELECT DISTINCT interconnect FROM {{database}}.interconnect_minute
              WHERE $__timeFilter(minute) AND {selected()})
SELECT w.time AS time, s.interconnect AS interconnect, 1 - d.minutes / w.minutes AS availability
FROM watched AS w CROSS JOIN seen AS s
LEFT JOIN down AS d ON d.time = w.time AND d.interconnect = s.interconnect
ORDER BY time, interconnect"""),
    Panel("Availability, all interconnects (goal 99.9 %)", "stat", format=TABLE, unit="percentunit",
          columns=("availability",), thresholds=((None, "red"), (0.999, "green")),
          options={"reduceOptions": {"values": False, "calcs": ["lastNotNull"]}, "colorMode": "background"},
          sql=f"""WITH watched AS ({_WATCHED_MINUTES}),
     down AS ({_DOWN_MINUTES}),
     seen AS (SELECT uniqExact(interconnect) AS n FROM {{database}}.interconnect_minute
              WHERE $__timeFilter(minute) AND {selected()})
SELECT 1 - (SELECT sum(minutes) FROM down)
           / ((SELECT sum(minutes) FROM watched) * greatest((SELECT n FROM seen), 1)) AS availability"""),
    Panel("Calls lost in incidents", "timeseries", columns=("time", "interconnect", "lost_calls"),
          custom={"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80},
          sql=f"""SELECT toStartOfInterval(start_time, INTERVAL 1 ${{period}}) AS time, interconnect,
       round(sum(lost_calls)) AS lost_calls
FROM {{database}}.incidents FINAL
WHERE $__timeFilter(start_time) AND {selected()}
GROUP BY time, interconnect ORDER BY time, interconnect"""),
    Panel("Traffic: seizures per period", "timeseries", columns=("time", "interconnect", "seizures"),
          custom={"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80},
          sql=f"""SELECT toStartOfInterval(minute, INTERVAL 1 ${{period}}) AS time, interconnect,
       sum(seizures) AS seizures
FROM {{database}}.interconnect_minute
WHERE $__timeFilter(minute) AND {selected()}
GROUP BY time, interconnect ORDER BY time, interconnect"""),
))

TENANTS = Variable("tenant",
                   "SELECT DISTINCT tenant FROM {database}.number_status FINAL WHERE tenant != '' ORDER BY tenant")
# The quarantine rule of the CLI and tenants' views, as of the range end.
_QUARANTINE = ("{database}.number_quarantine(as_of = $__toTime, max_calls = ${max_calls}, "
               "window_days = ${window_days}, min_days = ${min_days})")
_TENANT = "$__conditionalAll(tenant IN (${tenant}), $tenant)"


def quarantine_rule(max_calls: int, window_days: int, min_days: int) -> tuple[Variable, ...]:
    return (Variable("max_calls", constant=str(max_calls)), Variable("window_days", constant=str(window_days)),
            Variable("min_days", constant=str(min_days)))


def numbers(rule: tuple[Variable, ...]) -> Dashboard:
    quarantine_table = ("number", "tenant", "quarantine_days", "calls", "last_call_day")
    return Dashboard("cdrflow-numbers", "Number capacity", variables=(TENANTS, *rule), time_from="now-90d",
                     refresh="1h", panels=(
        Panel("Calls to numbers in quarantine, per day", "timeseries", columns=("time", "calls"),
              custom={"drawStyle": "bars", "fillOpacity": 80},
              sql=f"""SELECT toDateTime(day) AS time, sum(calls) AS calls
FROM {{database}}.number_hits_daily
WHERE $__dateFilter(day)
  AND number IN (SELECT toUInt64(substring(number, 2)) FROM {_QUARANTINE} WHERE {_TENANT})
GROUP BY time ORDER BY time"""),
        Panel("Quarantine verdicts", "piechart", format=TABLE, columns=("verdict", "numbers"),
              options={"reduceOptions": {"values": True, "calcs": []}, "pieType": "donut"},
              sql=f"""SELECT verdict, count() AS numbers FROM {_QUARANTINE} WHERE {_TENANT}
GROUP BY verdict ORDER BY verdict"""),
        Panel("Release candidates", "table", format=TABLE, columns=quarantine_table,
              sql=f"""SELECT number, tenant, quarantine_days, calls, last_call_day
FROM {_QUARANTINE} WHERE verdict = 'release' AND {_TENANT} ORDER BY quarantine_days DESC, number"""),
        Panel("Dirty numbers (still called)", "table", format=TABLE, columns=quarantine_table,
              sql=f"""SELECT number, tenant, quarantine_days, calls, last_call_day
FROM {_QUARANTINE} WHERE verdict = 'dirty' AND {_TENANT} ORDER BY calls DESC, number"""),
        Panel("Tracking numbers: calls per channel", "timeseries", columns=("time", "channel", "calls"),
              custom={"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80},
              sql=f"""SELECT toDateTime(day) AS time, channel, sum(calls) AS calls
FROM {{database}}.call_tracking_daily
WHERE $__dateFilter(day) AND {_TENANT}
GROUP BY time, channel ORDER BY time, channel"""),
        Panel("Tracking numbers", "table", format=TABLE,
              columns=("tracking_number", "tenant", "channel", "calls", "unique_callers", "first_time_callers"),
              sql=f"""SELECT tracking_number, tenant, channel, sum(calls) AS calls,
       sum(unique_callers) AS unique_callers, sum(first_time_callers) AS first_time_callers
FROM {{database}}.call_tracking_daily
WHERE $__dateFilter(day) AND {_TENANT}
GROUP BY tracking_number, tenant, channel ORDER BY calls DESC"""),
    ))


WORKERS = Variable("worker",
                   "SELECT DISTINCT worker FROM {database}.platform_health WHERE $__timeFilter(at) ORDER BY worker")
_WORKER = "$__conditionalAll(worker IN (${worker}), $worker)"

PLATFORM = Dashboard("cdrflow-platform", "Platform health", variables=(WORKERS,), time_from="now-3h", refresh="30s",
                     panels=(
    Panel("CDRs per second: in and stored (workers)", "timeseries", unit="cps",
          columns=("time", "cdrs_in_per_s", "cdrs_stored_per_s"),
          sql=f"""SELECT $__timeInterval(at) AS time, sum(cdrs_in) / $__interval_s AS cdrs_in_per_s,
       sum(cdrs_stored) / $__interval_s AS cdrs_stored_per_s
FROM {{database}}.platform_health
WHERE $__timeFilter(at) AND {_WORKER}
GROUP BY time ORDER BY time"""),
    # from the rows themselves: needs no worker sample, so it also covers writers other than the worker
    Panel("CDRs stored per second and ingest delay (ClickHouse)", "timeseries",
          columns=("time", "cdrs_stored_per_s", "delay_p95_s"),
          sql="""SELECT $__timeInterval(stored_at) AS time, count() / $__interval_s AS cdrs_stored_per_s,
       quantile(0.95)(dateDiff('millisecond', end_time, stored_at)) / 1000 AS delay_p95_s
FROM {database}.cdr
WHERE $__timeFilter(stored_at)
GROUP BY time ORDER BY time"""),
    Panel("Consumer lag (Kafka messages)", "timeseries", columns=("time", "worker", "lag_messages"),
          sql=f"""SELECT $__timeInterval(at) AS time, worker, max(consumer_lag) AS lag_messages
FROM {{database}}.platform_health
WHERE $__timeFilter(at) AND consumer_lag IS NOT NULL AND {_WORKER}
GROUP BY time, worker ORDER BY time, worker"""),
    Panel("Dead letters by reason", "timeseries", columns=("time", "reason", "letters"),
          custom={"drawStyle": "bars", "stacking": {"mode": "normal"}, "fillOpacity": 80},
          sql=f"""SELECT $__timeInterval(at) AS time, reason, sum(n) AS letters
FROM {{database}}.platform_health ARRAY JOIN mapKeys(dead_letters) AS reason, mapValues(dead_letters) AS n
WHERE $__timeFilter(at) AND {_WORKER}
GROUP BY time, reason ORDER BY time, reason"""),
))


def all_dashboards(settings) -> list[Dashboard]:
    rule = quarantine_rule(settings.quarantine_max_calls, settings.quarantine_window_days, settings.quarantine_min_days)
    return [NOC, DRILL_DOWN, TRENDS, numbers(rule), PLATFORM]
