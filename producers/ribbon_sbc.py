"""Ribbon / Sonus SBC and GSX accounting records (START, STOP, ATTEMPT) → canonical CDRs.

Each line is one record, comma-separated with no header; the first field names the record type
and fixes the layout. Fields are positional, and releases append fields and grow the count (the
GSX sample has 172 / 223 / 186 fields, SBC Core 12 writes 191 / 301 / 217), but the leading
fields read here sit at the same positions in both (checked against the SBC Core 12 field index
in the tests), so a record is accepted with any count that reaches the last field read.
- START: the call was answered; an interim record (record_kind "start"), its STOP follows.
- STOP: the end of an answered call. ATTEMPT: a call that was never answered.
- INTERMEDIATE (long-call checkpoints), EVENT, REBOOT and SWITCHOVER records are not calls.
The three records of a call share the gateway's Accounting ID (the correlation_id); call_id is
the ingress SIP Call-ID from the protocol variant data when the ingress leg is SIP.

Elapsed times and the call service duration are in 10 ms units: setup → alerting is the PDD,
setup → service established gives the answer time, the service duration is the billable time.
Dates are MM/DD/YYYY and times HH:MM:SS.t in the node's zone, written as "GMT-08:00-Pacific(US)":
the offset there is the zone's standard offset, so the source's configured zone is used when its
standard offset agrees (it knows the zone's DST rules), and the written offset otherwise.
The disconnect reason is a Q.850 cause. Trunks are the ingress and egress trunk group names; a
record without an egress trunk group name takes it from the route selected, "GATEWAY:TRUNKGROUP".
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo

from cdrflow.schemas.causes import q850_value

from .cdr_record import checked, new_record
from .local_time import local_ms, utc_offset
from .parsing import (PAST_ANY_LINE, CDRRecord, CsvLineParser, RecordError, SourceContext, column_split, pick_plan,
                      whole_number)

FORMAT_NAME = "ribbon_sbc"
FIELDS = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
          "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "disconnect_initiator",
          "pdd_ms", "call_id", "correlation_id")
TICK_MS = 10

# 1-based field positions per record type, as in Ribbon's CDR field reference (and the sample's
# field index); only what the canonical CDR needs.
_COMMON = {"gateway": 2, "accounting_id": 3, "zone": 5, "start_date": 6, "start_time": 7, "alerting": 9}
LAYOUTS: dict[str, dict[str, int]] = {
    "START": {**_COMMON, "established": 10, "calling": 15, "called": 16, "route_attempt": 25,
              "route": 26, "ingress_tg": 29, "ingress_signaling": 42, "egress_tg": 54},
    "STOP": {**_COMMON, "established": 10, "end_date": 11, "end_time": 12, "service_duration": 14,
             "reason": 15, "calling": 20, "called": 21, "route_attempt": 30, "route": 31,
             "ingress_tg": 34, "ingress_signaling": 52, "initiator": 64, "egress_tg": 68},
    "ATTEMPT": {**_COMMON, "end_time": 10, "reason": 12, "calling": 17, "called": 18,
                "route_attempt": 27, "route": 28, "ingress_tg": 31, "ingress_signaling": 45,
                "initiator": 57, "egress_tg": 58},
}
# ATTEMPT records give the disconnect date far from its time, in a field older releases lack:
# without it the call ends on its start date, or the next day when the time is earlier.
ATTEMPT_END_DATE = 105
MIN_FIELDS = {kind: max(layout.values()) for kind, layout in LAYOUTS.items()}
# one pick of the columns any record type reads; per record type, a getter of READ in that order,
# a value its type lacks read past the line's last column ("", see csv_pick), ATTEMPT's end date
# from ATTEMPT_END_DATE ("" from a release without it)
READ = ("gateway", "accounting_id", "zone", "start_date", "start_time", "alerting", "established", "end_date",
        "end_time", "service_duration", "reason", "calling", "called", "route_attempt", "route", "ingress_tg",
        "ingress_signaling", "initiator", "egress_tg")


def _positions(kind: str) -> tuple[int, ...]:
    at = LAYOUTS[kind] | ({"end_date": ATTEMPT_END_DATE} if kind == "ATTEMPT" else {})
    return tuple(at[name] - 1 if name in at else PAST_ANY_LINE for name in READ)


_COLUMNS, _GETTERS = pick_plan({kind: _positions(kind) for kind in LAYOUTS})
RECORD_KIND = {"START": "start", "STOP": "stop", "ATTEMPT": "attempt"}
NOT_CALLS = frozenset({"INTERMEDIATE", "EVENT", "REBOOT", "SWITCHOVER"})
# Disconnect Initiator: 0 internal (the SBC itself), 1 calling party, 2 called party, 3 internal eviction
INITIATOR = {"0": "network", "1": "caller", "2": "callee", "3": "network"}

_DATE = re.compile(r"(\d\d)/(\d\d)/(\d{4})", re.ASCII)
_TIME = re.compile(r"(\d\d:\d\d:\d\d)(?:\.(\d))?", re.ASCII)
_ZONE = re.compile(r"GMT([+-])(\d\d):(\d\d)", re.ASCII)
_DAY_MS = 86_400_000
_zones: dict[tuple[str, tzinfo], tzinfo] = {}
_iso_dates: dict[str, str] = {}
# zone → "MM/DD/YYYY HH:MM:SS.t" → UTC ms: a node's records share their tenths of a second
_times: dict[tzinfo, dict[str, int]] = {}
_MAX_CACHED_TIMES = 200_000


def _standard_offset(tz: tzinfo, year: int) -> timedelta:
    # DST only ever adds to the offset, in either hemisphere
    return min(utc_offset(datetime(year, 1, 1, tzinfo=tz)), utc_offset(datetime(year, 7, 1, tzinfo=tz)))


def node_zone(text: str, configured: tzinfo, date: str) -> tzinfo:
    """The zone of a record's times from its Node Time Zone field (see the module doc), for a
    record of `date` (MM/DD/YYYY), whose year's standard offset is compared."""
    key = (text, configured)
    zone = _zones.get(key)
    if zone is None:
        year = _year(date)
        m = _ZONE.match(text)
        if not m:
            raise RecordError(f"node time zone {text[:30]!r} does not start GMT+HH:MM")
        sign, hours, minutes = m.groups()
        offset = (1 if sign == "+" else -1) * timedelta(hours=int(hours), minutes=int(minutes))
        if abs(offset) > timedelta(hours=14):
            raise RecordError(f"node time zone {text[:30]!r} is not a UTC offset")
        zone = configured if _standard_offset(configured, year) == offset else timezone(offset)
        if len(_zones) > 1000:
            _zones.clear()
        _zones[key] = zone
    return zone


def _iso_date(date: str) -> str:
    """"MM/DD/YYYY" → "YYYY-MM-DD"; a file's records share few dates, so they are parsed once."""
    iso = _iso_dates.get(date)
    if iso is None:
        m = _DATE.fullmatch(date)
        if not m:
            raise RecordError(f"bad date {date[:20]!r}, expected MM/DD/YYYY")
        month, day, year = m.groups()
        if len(_iso_dates) > 10_000:
            _iso_dates.clear()
        iso = _iso_dates[date] = f"{year}-{month}-{day}"
    return iso


def _year(date: str) -> int:
    return int(_iso_date(date)[:4])


def _ms(date: str, time: str, zone: tzinfo) -> int:
    times = _times.get(zone)
    if times is None or len(times) > _MAX_CACHED_TIMES:
        times = _times[zone] = {}
    key = f"{date} {time}"
    ms = times.get(key)
    if ms is None:
        iso, t = _iso_date(date), _TIME.fullmatch(time)
        if not t:
            raise RecordError(f"bad time {time[:20]!r}, expected HH:MM:SS.t")
        ms = times[key] = local_ms(f"{iso} {t.group(1)}", zone) + int(t.group(2) or 0) * 100
    return ms


def _ticks_ms(text: str, name: str) -> int:
    return whole_number(text, name, "10 ms ticks") * TICK_MS


def _sip_call_id(signaling: str) -> str:
    # protocol variant data: "SIP,<Call-ID>,<From>,<To>,…" for a SIP leg
    protocol, _, rest = signaling.partition(",")
    return rest.partition(",")[0] if protocol == "SIP" else ""


def _egress_trunk(egress_tg: str, route: str) -> str | None:
    return egress_tg or route.partition(":")[2] or None



def _record(picked: tuple[int, tuple[str, ...]], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
    count, values = picked
    record_type = values[0]
    pick = _GETTERS.get(record_type)
    if pick is None:
        if record_type in NOT_CALLS:
            return None
        raise RecordError(f"unknown record type {record_type[:20]!r}")
    if count < MIN_FIELDS[record_type]:
        raise RecordError(f"{record_type} record has {count} fields, expected at least {MIN_FIELDS[record_type]}")
    (gateway, accounting_id, zone_text, start_date, start_time, alerting, established, end_date, end_time,
     service_duration, reason_text, calling, called, route_attempt, route, ingress_tg, ingress_signaling,
     initiator_text, egress_tg) = pick(values)
    if not gateway or not accounting_id:
        raise RecordError("empty gateway name or accounting ID")
    zone = node_zone(zone_text, ctx.timezone, start_date)
    start_ms = _ms(start_date, start_time, zone)
    alerting_ms = _ticks_ms(alerting, "alerting time")

    answer_ms = None
    if record_type != "ATTEMPT":
        answer_ms = start_ms + _ticks_ms(established, "service established time")
    if record_type == "START":
        assert answer_ms is not None            # set above for every record but an ATTEMPT
        end_ms, billable_ms, reason, initiator = answer_ms, 0, None, None
    else:
        if record_type == "STOP":
            end_ms = _ms(end_date, end_time, zone)
            billable_ms = _ticks_ms(service_duration, "call service duration")
        else:
            end_ms = _ms(end_date or start_date, end_time, zone)
            if not end_date and end_ms < start_ms:
                end_ms += _DAY_MS
            billable_ms = 0
        if end_ms < start_ms:
            raise RecordError(f"disconnect time {end_time!r} is before start time {start_time!r}")
        reason = q850_value(whole_number(reason_text, "disconnect reason", "a cause", 3))
        initiator = INITIATOR.get(initiator_text, "unknown")
    if answer_ms is not None:
        # whole tenths of a second in the times, 10 ms ticks in the elapsed time
        answer_ms = min(answer_ms, end_ms)
    pdd_ms = alerting_ms or (answer_ms - start_ms if answer_ms is not None else None)

    correlation_id = f"{gateway}/{accounting_id}"
    record = new_record(ctx, FORMAT_NAME, f"{correlation_id}/{record_type}/{route_attempt}", offset)
    record["call_id"] = _sip_call_id(ingress_signaling) or correlation_id
    record["correlation_id"] = correlation_id
    record["record_kind"] = RECORD_KIND[record_type]
    record["start_ms"] = start_ms
    record["answer_ms"] = answer_ms
    record["end_ms"] = end_ms
    record["duration_ms"] = end_ms - start_ms
    record["billable_ms"] = billable_ms
    record["calling_number"] = calling
    record["called_number"] = called
    record["ingress_trunk"] = ingress_tg or None
    record["egress_trunk"] = _egress_trunk(egress_tg, route)
    record["q850_cause"] = reason
    record["disconnect_initiator"] = initiator
    record["pdd_ms"] = pdd_ms
    return checked(record)


class RibbonSbcParser(CsvLineParser):
    """Ribbon/Sonus SBC and GSX START/STOP/ATTEMPT records, positional, any release's field count."""

    format_name = FORMAT_NAME
    fields = FIELDS
    split = staticmethod(column_split(_COLUMNS))
    record = staticmethod(_record)


parse_ribbon_sbc = RibbonSbcParser()
