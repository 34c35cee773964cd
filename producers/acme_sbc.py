"""Oracle / Acme Packet SBC local CDR files (RADIUS accounting flattened to CSV) → canonical CDRs.

The SBC writes each RADIUS accounting record as one CSV line of attribute values, no header and
no names: which attribute sits at which position depends on the software release and the record
type. The position maps live in acme_positions/ (one file per release and record type); a record
is matched to its map by Acct-Status-Type (its first field: 1 start, 2 stop) and its field
count, which differ between every pair of maps we have, so no per-source setting is needed.
A record that fits no map is a dead letter naming its type and count: add that release's map.
Interim-Update (3) and Accounting-On/Off (7, 8) records are not calls.

- start: the call was answered (record_kind "start", interim); stop: the end of every call,
  answered or not (Acme-Session-Disposition 3 = answered, and a connect time).
- Times are h323-setup/connect/disconnect-time, "15:54:56.868 PST DEC 18 2017", a leading "*"
  or "." marking a clock not synchronised. The zone is an abbreviation: the source's configured
  zone when it names its time so (and then its DST rules hold), else a fixed table of
  unambiguous ones; anything else is a dead letter rather than a guess.
- Acme-Disconnect-Cause is the Q.850 cause, Acme-SIP-Status the SIP final response,
  Acme-Disconnect-Initiator 1 calling / 2 called party / 3 the SBC, Acme-Post-Dial-Delay ms.
- Trunks: Acme-Originating/Terminating-Trunk-Group when set, else the ingress/egress realm,
  which is how an SBC names the peer network. Numbers are the user part of Calling/Called-Station-Id.
"""
from __future__ import annotations

import csv
import re
from datetime import tzinfo
from pathlib import Path

from cdrflow.schemas.causes import q850_value

from .cdr_record import checked, new_record
from .local_time import MONTHS, abbreviated_local_ms
from .parsing import (PAST_ANY_LINE, CDRRecord, CsvLineParser, RecordError, SourceContext, check_times,
                      column_split, pick_plan, whole_number)

FORMAT_NAME = "acme_sbc"
FIELDS = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
          "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "sip_code",
          "disconnect_initiator", "pdd_ms", "call_id")
POSITIONS_DIR = Path(__file__).with_name("acme_positions")
STATUS = {"1": "start", "2": "stop"}
NOT_CALLS = frozenset({"3", "7", "8"})
ANSWERED_DISPOSITION = "3"
INITIATOR = {"0": None, "1": "caller", "2": "callee", "3": "network"}
READ = ("Acct-Session-Id", "Acme-Session-Ingress-CallId", "Calling-Station-Id", "Called-Station-Id",
        "h323-setup-time", "h323-connect-time", "Acme-Session-Ingress-Realm", "Acme-Session-Egress-Realm",
        "Acme-Post-Dial-Delay", "Acme-Originating-Trunk-Group", "Acme-Terminating-Trunk-Group")
READ_STOP = ("h323-disconnect-time", "Acct-Session-Time", "Acme-Session-Disposition",
             "Acme-Disconnect-Initiator", "Acme-Disconnect-Cause", "Acme-SIP-Status")
_TIME = re.compile(r"[*.]?(\d\d:\d\d:\d\d)(?:\.(\d{1,3}))? ([A-Z]{1,5}) ([A-Z]{3}) (\d{1,2}) (\d{4})", re.ASCII)
_SIP_USER = re.compile(r"(?:sips?|tel):([^@;>]+)")


def load_layouts(directory: Path = POSITIONS_DIR) -> dict[tuple[str, int], tuple[str, dict[str, int]]]:
    """(Acct-Status-Type, field count) → (map name, attribute → 0-based index) for every map file."""
    layouts = {}
    for path in sorted(directory.glob("*_avp_positions.csv")):
        release, kind = path.name.split("_")[:2]
        with path.open(newline="") as fh:
            index = {name: int(position) - 1 for position, name, *_ in csv.reader(fh)}
        status = next(s for s, k in STATUS.items() if k == kind)
        needed = READ + (READ_STOP if kind == "stop" else ())
        layouts[(status, max(index.values()) + 1)] = (f"{release} {kind}", {name: index[name] for name in needed})
    return layouts


LAYOUTS = load_layouts()
# one pick of the columns any map reads; per map, a getter of READ + READ_STOP in that order, a
# start map's READ_STOP read past the line's last column, where csv_pick gives ""
_COLUMNS, _GETTERS = pick_plan({key: tuple(at.get(name, PAST_ANY_LINE) for name in READ + READ_STOP)
                                for key, (_, at) in LAYOUTS.items()})
# zone → time text → UTC ms: an SBC's records share their milliseconds often enough, their seconds more
_times: dict[tzinfo, dict[str, int]] = {}
_MAX_CACHED_TIMES = 200_000


def acme_time_ms(text: str, configured: tzinfo) -> int:
    """"15:54:56.868 PST DEC 18 2017" → UTC epoch ms (see the module doc for the zone)."""
    times = _times.get(configured)
    if times is None or len(times) > _MAX_CACHED_TIMES:
        times = _times[configured] = {}
    ms = times.get(text)
    if ms is None:
        ms = times[text] = _time_ms(text, configured)
    return ms


def _time_ms(text: str, configured: tzinfo) -> int:
    m = _TIME.fullmatch(text)
    if not m or m.group(4) not in MONTHS:
        raise RecordError(f"bad time {text[:40]!r}, expected like '15:54:56.868 PST DEC 18 2017'")
    clock, millis, abbreviation, month, day, year = m.groups()
    local = f"{year}-{MONTHS[month]:02d}-{int(day):02d} {clock}"
    return abbreviated_local_ms(local, millis, abbreviation, configured)


def station_number(station: str) -> str:
    """'"Alice" <sip:+17815551234@10.0.0.1>;tag=1' → '+17815551234'; anything else as written."""
    if station.startswith("<sip:"):
        # the usual form, without the regex: its first match is at 1 when a user part follows
        user = station[5:].partition("@")[0]
        if user and ";" not in user and ">" not in user:
            return user
    m = _SIP_USER.search(station)
    return m.group(1) if m else station.strip()



def _record(picked: tuple[int, tuple[str, ...]], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
    count, values = picked
    status = values[0]
    if status in NOT_CALLS:
        return None
    pick = _GETTERS.get((status, count))
    if pick is None:
        raise RecordError(f"no position map for Acct-Status-Type {status[:10]!r} with {count} fields")
    (session_id, ingress_call_id, calling_station, called_station, setup, connect, ingress_realm, egress_realm, pdd,
     originating_tg, terminating_tg, disconnect, session_time, disposition, initiator, cause, sip) = pick(values)
    if not session_id:
        raise RecordError("empty Acct-Session-Id")
    tz = ctx.timezone
    start_ms = acme_time_ms(setup, tz)
    answer_ms = acme_time_ms(connect, tz) if connect else None
    kind = STATUS[status]
    pdd_ms = whole_number(pdd, "Acme-Post-Dial-Delay", "ms") if pdd else None
    if kind == "start":
        if answer_ms is None:
            raise RecordError("start record without h323-connect-time")
        end_ms, billable_ms, q850_cause, code, disconnect_initiator = answer_ms, 0, None, None, None
    else:
        end_ms = acme_time_ms(disconnect, tz)
        if disposition != ANSWERED_DISPOSITION:
            answer_ms = None
        billable_ms = whole_number(session_time or "0", "Acct-Session-Time", "seconds") * 1000
        if answer_ms is None and billable_ms:
            raise RecordError(f"Acct-Session-Time {billable_ms // 1000} but the call was not answered")
        q850_cause = q850_value(whole_number(cause, "Acme-Disconnect-Cause", "a cause", 3)) if cause else None
        code = whole_number(sip, "Acme-SIP-Status", "a SIP status", 3) if sip else None
        if code is not None and not 100 <= code <= 699:
            raise RecordError(f"Acme-SIP-Status {code} is not a SIP status")
        disconnect_initiator = INITIATOR.get(initiator, "unknown")
    check_times(start_ms, answer_ms, end_ms, "setup time", "connect time", "disconnect time")
    record = new_record(ctx, FORMAT_NAME, f"{session_id}/{kind}", offset)
    record["call_id"] = ingress_call_id or session_id
    record["correlation_id"] = session_id
    record["record_kind"] = kind
    record["start_ms"] = start_ms
    record["answer_ms"] = answer_ms
    record["end_ms"] = end_ms
    record["duration_ms"] = end_ms - start_ms
    record["billable_ms"] = billable_ms
    record["calling_number"] = station_number(calling_station)
    record["called_number"] = station_number(called_station)
    record["ingress_trunk"] = originating_tg or ingress_realm or None
    record["egress_trunk"] = terminating_tg or egress_realm or None
    record["q850_cause"] = q850_cause
    record["sip_code"] = code
    record["disconnect_initiator"] = disconnect_initiator
    record["pdd_ms"] = pdd_ms
    return checked(record)


class AcmeSbcParser(CsvLineParser):
    """Oracle/Acme Packet SBC local CDR CSV, positions by release from acme_positions/ maps."""

    format_name = FORMAT_NAME
    fields = FIELDS
    split = staticmethod(column_split(_COLUMNS))
    record = staticmethod(_record)


parse_acme_sbc = AcmeSbcParser()
