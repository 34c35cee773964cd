"""FreeSWITCH CDRs → canonical CDRs: mod_json_cdr documents and mod_cdr_csv's default template.

mod_json_cdr writes one JSON document per call leg (`a_<uuid>.cdr.json` per file, or posted
and collected one per line), printed unformatted, so on one line; the file often has no final
newline, which the file source reads at the end of a closed file. The channel variables are
URL-encoded strings (encode-values, the default), so only the ones read are decoded:
  uuid, sip_call_id, call_uuid            → native id, call_id, correlation_id (links the legs)
  start_uepoch, answer_uepoch, end_uepoch → times in µs, 0 = never (start_epoch … in s as fallback)
  billmsec / billsec                      → billable time
  hangup_cause, hangup_cause_q850         → Q.850 (schemas/causes.py FREESWITCH_CAUSES)
  sip_term_status                         → SIP final response
  progress_mediamsec, progressmsec        → PDD: ms from start to early media or ringing, the first
  sip_gateway_name, bridge_channel        → trunks, by the leg's direction
The numbers come from the leg's caller profile (callflow; the last entry is the first profile).
Duplicate keys, which FreeSWITCH writes when a variable is exported twice, are tolerated: the last
value wins, as it was the channel's value when the CDR was written.

mod_cdr_csv with its default template ("example" in cdr_csv.conf.xml):
  caller_id_name, caller_id_number, destination_number, context, start_stamp, answer_stamp,
  end_stamp, duration, billsec, hangup_cause, uuid, bleg_uuid, accountcode, read_codec, write_codec
with switch-local "YYYY-MM-DD HH:MM:SS" stamps, an empty answer_stamp when unanswered, and no
trunk, SIP code or PDD.
"""
from __future__ import annotations

from urllib.parse import unquote

import orjson

from cdrflow.schemas.causes import q850_from_freeswitch

from .cdr_record import checked, new_record
from .local_time import call_times
from .parsing import CDRRecord, CsvLineParser, RecordError, SourceContext, check_times, parse_line, whole_number

JSON_FORMAT = "freeswitch_json"
CSV_FORMAT = "freeswitch_csv"
_US_DIGITS = 17   # µs since 1970 stay below 10**17 for millions of years
_MS_DIGITS = 12


def gateway_of(channel: str) -> str | None:
    """"sofia/gateway/carrierA/+4930…" → "carrierA"; other channels name no trunk."""
    parts = channel.split("/", 3)
    return parts[2] or None if len(parts) > 3 and parts[0] == "sofia" and parts[1] == "gateway" else None


class _Variables:
    """The leg's URL-encoded channel variables, decoded as they are read."""

    def __init__(self, variables: dict):
        self.raw = variables

    def text(self, name: str) -> str:
        value = self.raw.get(name, "")
        if type(value) is str:   # what FreeSWITCH writes (orjson gives str itself): checked first
            return unquote(value) if "%" in value else value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise RecordError(f"variable {name} is not a string")

    def number(self, name: str, unit: str, digits: int) -> int | None:
        text = self.text(name)
        return whole_number(text, name, unit, digits) if text else None


def _epoch_ms(v: _Variables, name: str) -> int:
    """<name>_uepoch in µs, else <name>_epoch in s; 0 (never) and absent as 0."""
    us = v.number(f"{name}_uepoch", "µs", _US_DIGITS)
    if us is not None:
        return us // 1000
    s = v.number(f"{name}_epoch", "seconds", 10)
    return 0 if s is None else s * 1000


def _profile(doc: dict) -> dict:
    callflow = doc.get("callflow")
    if isinstance(callflow, dict):
        callflow = [callflow]
    if isinstance(callflow, list) and callflow and isinstance(callflow[-1], dict):
        profile = callflow[-1].get("caller_profile")
        if isinstance(profile, dict):
            return profile
    return {}


def _profile_text(profile: dict, name: str) -> str:
    value = profile.get(name, "")
    return unquote(value) if isinstance(value, str) else ""


def _parse_json(raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise RecordError(f"bad JSON: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("variables"), dict):
        raise RecordError("not a mod_json_cdr document: no variables object")
    v = _Variables(doc["variables"])
    uuid = v.text("uuid")
    if not uuid:
        raise RecordError("empty uuid")
    start_ms, answer_ms, end_ms = _epoch_ms(v, "start"), _epoch_ms(v, "answer"), _epoch_ms(v, "end")
    if not start_ms:
        raise RecordError("no start time (start_uepoch / start_epoch)")
    check_times(start_ms, answer_ms or None, end_ms, "start time", "answer time", "end time")
    billable_ms = v.number("billmsec", "ms", _MS_DIGITS)
    if billable_ms is None:
        billsec = v.number("billsec", "seconds", 10)
        billable_ms = end_ms - answer_ms if answer_ms and billsec is None else (billsec or 0) * 1000
    if not answer_ms and billable_ms:
        raise RecordError(f"billable {billable_ms} ms but never answered")
    q850_field = v.number("hangup_cause_q850", "a cause", 3)
    sip_code = v.number("sip_term_status", "a SIP status", 3)
    if sip_code is not None and not 100 <= sip_code <= 699:
        raise RecordError(f"sip_term_status {sip_code} is not a SIP status")
    progress = [ms for name in ("progress_mediamsec", "progressmsec")
                if (ms := v.number(name, "ms", _MS_DIGITS))]
    gateway = v.text("sip_gateway_name") or gateway_of(v.text("channel_name")) or None
    outbound = v.text("direction") == "outbound"
    profile = _profile(doc)
    record = new_record(ctx, JSON_FORMAT, uuid, offset)
    record["call_id"] = v.text("sip_call_id") or uuid
    record["correlation_id"] = v.text("call_uuid") or None
    record["start_ms"] = start_ms
    record["answer_ms"] = answer_ms or None
    record["end_ms"] = end_ms
    record["duration_ms"] = end_ms - start_ms
    record["billable_ms"] = billable_ms
    record["calling_number"] = _profile_text(profile, "caller_id_number") or v.text("caller_id_number")
    record["called_number"] = _profile_text(profile, "destination_number") or v.text("destination_number")
    record["ingress_trunk"] = None if outbound else gateway
    record["egress_trunk"] = gateway if outbound else gateway_of(v.text("bridge_channel"))
    record["q850_cause"] = q850_from_freeswitch(v.text("hangup_cause"), q850_field)
    record["sip_code"] = sip_code
    record["pdd_ms"] = min(progress) if progress else None
    return checked(record)


CSV_COLUMNS = ("caller_id_name", "caller_id_number", "destination_number", "context", "start_stamp",
               "answer_stamp", "end_stamp", "duration", "billsec", "hangup_cause", "uuid", "bleg_uuid",
               "accountcode", "read_codec", "write_codec")


def _csv_record(row: list[str], offset: int, ctx: SourceContext) -> CDRRecord:
    if len(row) != len(CSV_COLUMNS):
        raise RecordError(f"expected {len(CSV_COLUMNS)} columns of the default template, got {len(row)}")
    (_, calling, called, _, start, answer, end, duration, billsec, cause, uuid, bleg_uuid, *_) = row
    if not uuid:
        raise RecordError("empty uuid")
    start_ms, answer_ms, end_ms = call_times(start, answer, end, ctx.timezone)
    billsec_s = whole_number(billsec, "billsec", "seconds")
    whole_number(duration, "duration", "seconds")
    if answer_ms is None and billsec_s:
        raise RecordError(f"billsec {billsec_s} but no answer_stamp")
    record = new_record(ctx, CSV_FORMAT, uuid, offset)
    record["call_id"] = uuid
    record["correlation_id"] = bleg_uuid or None
    record["start_ms"] = start_ms
    record["answer_ms"] = answer_ms
    record["end_ms"] = end_ms
    record["duration_ms"] = end_ms - start_ms
    record["billable_ms"] = billsec_s * 1000
    record["calling_number"] = calling
    record["called_number"] = called
    record["q850_cause"] = q850_from_freeswitch(cause)
    return checked(record)


class FreeswitchJsonParser:
    """FreeSWITCH mod_json_cdr, one unformatted JSON document per line or file."""

    format_name = JSON_FORMAT
    fields = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
              "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "sip_code", "pdd_ms",
              "call_id", "correlation_id")

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        return parse_line(_parse_json, line, offset, ctx)


class FreeswitchCsvParser(CsvLineParser):
    """FreeSWITCH mod_cdr_csv with the default ("example") template, 15 columns, no header."""

    format_name = CSV_FORMAT
    fields = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
              "called_number", "q850_cause", "call_id", "correlation_id")

    def record(self, row: list[str], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord:
        return _csv_record(row, offset, ctx)


parse_freeswitch_json = FreeswitchJsonParser()
parse_freeswitch_csv = FreeswitchCsvParser()
