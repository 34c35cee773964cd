"""AudioCodes SBC signaling CDRs as sent to syslog (and kept in files) → canonical CDRs.

A CDR is one syslog message whose text, after the syslog header and the "[S=<seq>]" counter, is
"|"-separated, space-padded fields. The device sends a title line naming the fields
("|SBCReportType |EPTyp |SIPCallId |…") and the fields are configurable, so they are read by
name: the per-file parser starts from the first line if it is a title, else from the default
SBC signaling layout below (AudioCodes user manuals, "CDR Fields for SBC Signaling"), and every
later title line replaces the layout. After a restart mid-file the first line is read again, so a
file whose title is its first line keeps its layout; other files use the default until a title.
Lines without "|" are other syslog messages and give None.

Each SBC leg reports CALL_START (INVITE), CALL_CONNECT (answered) and CALL_END; SessionId links
the two legs of a call (correlation_id) and SIPCallId is the leg's Call-ID. CALL_END is the leg's
CDR; CALL_CONNECT an interim "start" record; CALL_START, media and non-INVITE dialog reports are
not calls. A leg is a seizure on its own IP Group, the trunk: the ingress trunk on a leg the
remote side originated (Orig RMT), the egress trunk on one the SBC originated (LCL).
Firmware 7.2 / 7.4 pads fields to fixed widths, with two spaces inside times
("09:12:03.118  UTC Tue Mar 14 2023"), prefixes its own syslog header ("[03/14 ]09:12:33.064
10.1.1.20  local1.info[S = 57] |CALL_END …"), and names fields in newer titles (`Duration` for
Durat, `IPGroup (name)`, `SrdId (name)`, and appended SIPTermDesc, Caller, Callee, LegId …): the
fields are read by name, a title's note in parentheses dropped, TITLE_ALIASES renamed.
Media reports (MEDIA_START / MEDIA_UPDATE / MEDIA_END and their MediaReportType title) are no
calls: they give None (skip_kind says so) and leave the call layout alone.
Times look like "06:13:54.950 UTC Thu Mar 02 2012"; Durat is the talk time in seconds;
TrmReason a GWAPP_ Q.850 name (schemas/causes.py); SIPTrmReason BYE, CANCEL (the caller gave up,
reported as 487) or the SIP final response; TrmSd the side that ended the leg.
"""
from __future__ import annotations

import re
from datetime import tzinfo

from cdrflow.schemas.causes import AUDIOCODES_TRM_REASONS, SIP_CALLER_CANCEL

from .cdr_record import checked, new_record
from .local_time import MONTHS, abbreviated_local_ms
from .parsing import CDRRecord, RecordError, SourceContext, check_times, parse_line, whole_number

FORMAT_NAME = "audiocodes_syslog"
FIELDS = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
          "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "sip_code",
          "disconnect_initiator", "call_id", "correlation_id")
DEFAULT_COLUMNS = (
    "SBCReportType", "EPTyp", "SIPCallId", "SessionId", "Orig", "SourceIp", "SourcePort", "DestIp",
    "DestPort", "TransportType", "SrcURI", "SrcURIBeforeMap", "DstURI", "DstURIBeforeMap", "Durat",
    "TrmSd", "TrmReason", "TrmReasonCategory", "SetupTime", "ConnectTime", "ReleaseTime",
    "RedirectReason", "RedirectURINum", "RedirectURINumBeforeMap", "TxSigIPDiffServ", "IPGroup",
    "SrdId", "SIPInterfaceId", "ProxySetId", "IpProfileId", "MediaRealmId", "DirectMedia",
    "SIPTrmReason", "SIPTermDesc", "Caller", "Callee")
REQUIRED = ("SBCReportType", "SIPCallId", "SessionId", "Orig", "SrcURI", "DstURI", "Durat", "TrmSd",
            "TrmReason", "SetupTime", "ConnectTime", "ReleaseTime", "IPGroup", "SIPTrmReason")
TITLE_FIELDS = frozenset({"SBCReportType", "GWReportType", "MediaReportType"})
MEDIA_TITLE = "MediaReportType"
MEDIA_REPORTS = frozenset({"MEDIA_START", "MEDIA_UPDATE", "MEDIA_END"})
# newer firmware's title names → the names read here
TITLE_ALIASES = {"Duration": "Durat"}
RECORD_KIND = {"CALL_CONNECT": "start", "CALL_END": "stop"}
NOT_CALLS = frozenset({"CALL_START", "MEDIA_START", "MEDIA_UPDATE", "MEDIA_END", "DIALOG_START",
                       "DIALOG_CONNECT", "DIALOG_END"})
_TIME = re.compile(r"(\d\d:\d\d:\d\d)(?:\.(\d{1,3}))? +([A-Za-z]{1,5}) +[A-Za-z]{3} +([A-Za-z]{3}) +(\d{1,2}) +(\d{4})",
                   re.ASCII)
_GROUP = re.compile(r"(\d+) \((.*)\)")


def _fields(raw: bytes) -> list[str] | None:
    text = raw.decode("utf-8", "replace")
    _, bar, rest = text.partition("|")
    return [f.strip() for f in rest.split("|")] if bar else None


def _title_columns(fields: list[str]) -> dict[str, int]:
    # titles may carry a note, "IPGroup (description)": the name is the first word
    names = (f.split(" ", 1)[0] for f in fields)
    return {TITLE_ALIASES.get(name, name): i for i, name in enumerate(names)}


def audiocodes_time_ms(text: str, configured: tzinfo) -> int:
    m = _TIME.fullmatch(text)
    if not m or m.group(4).upper() not in MONTHS:
        raise RecordError(f"bad time {text[:40]!r}, expected like '06:13:54.950 UTC Thu Mar 02 2012'")
    clock, millis, abbreviation, month, day, year = m.groups()
    local = f"{year}-{MONTHS[month.upper()]:02d}-{int(day):02d} {clock}"
    return abbreviated_local_ms(local, millis, abbreviation.upper(), configured)


def _sip_code(reason: str) -> int | None:
    if reason == "CANCEL":
        return SIP_CALLER_CANCEL
    if len(reason) == 3 and reason.isascii() and reason.isdigit() and 100 <= int(reason) <= 699:
        return int(reason)
    return None   # BYE, or nothing


def uri_user(uri: str) -> str:
    """"103@audiocodes.com" → "103"."""
    return uri.partition("@")[0]


def ip_group(text: str) -> str | None:
    """"2 (ITSP)" → "ITSP", a nameless "2 ()" → "ipgroup:2", "-1" (none) → None."""
    m = _GROUP.fullmatch(text)
    if m:
        return m.group(2).strip() or f"ipgroup:{m.group(1)}"
    return f"ipgroup:{text}" if text.isdigit() else None


class AudioCodesSyslogFile:
    """AudioCodes SBC syslog CDR lines of one file, fields named by its title lines."""

    format_name = FORMAT_NAME
    fields = FIELDS

    def __init__(self, first_line: bytes):
        self._set_columns({name: i for i, name in enumerate(DEFAULT_COLUMNS)})
        first = _fields(first_line)
        if first and first[0] in TITLE_FIELDS and first[0] != MEDIA_TITLE:
            try:
                self._use_title(first)
            except RecordError:
                pass   # said again, as a dead letter, when the line itself is read

    def _use_title(self, fields: list[str]) -> None:
        columns = _title_columns(fields)
        missing = [name for name in REQUIRED[1:] if name not in columns]
        if missing:
            raise RecordError(f"title line lacks field(s) {', '.join(missing)}; keeping the previous layout")
        self._set_columns({**columns, "SBCReportType": 0})

    def _set_columns(self, columns: dict[str, int]) -> None:
        # releases append fields (SIPTermDesc, Caller, Callee …): a line need only reach those read
        self.columns = columns
        self.last_read = max(columns[name] for name in REQUIRED)

    def _parse(self, raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        fields = _fields(raw)
        if fields is None:
            return None
        report = fields[0]
        if report == MEDIA_TITLE:
            return None
        if report in TITLE_FIELDS:
            self._use_title(fields)
            return None
        if report in NOT_CALLS:
            return None
        kind = RECORD_KIND.get(report)
        if kind is None:
            raise RecordError(f"unknown report type {report[:20]!r}")
        if len(fields) <= self.last_read:
            raise RecordError(f"{len(fields)} fields, {self.last_read + 1} needed to reach every field read")
        f = {name: fields[self.columns[name]] for name in REQUIRED}
        call_id, session_id = f["SIPCallId"], f["SessionId"]
        if not call_id:
            raise RecordError("empty SIPCallId")
        tz = ctx.timezone
        start_ms = audiocodes_time_ms(f["SetupTime"], tz)
        answer_ms = audiocodes_time_ms(f["ConnectTime"], tz) if f["ConnectTime"] else None
        talk_ms = whole_number(f["Durat"], "Durat", "seconds") * 1000
        q850 = sip_code = initiator = None
        if kind == "start":
            if answer_ms is None:
                raise RecordError("CALL_CONNECT without ConnectTime")
            end_ms, talk_ms = answer_ms, 0
        else:
            end_ms = audiocodes_time_ms(f["ReleaseTime"], tz)
            q850 = AUDIOCODES_TRM_REASONS.get(f["TrmReason"])
            sip_code = _sip_code(f["SIPTrmReason"])
            if f["TrmSd"] == "RMT":
                initiator = "caller" if f["Orig"] == "RMT" else "callee"
        if answer_ms is None and talk_ms:
            raise RecordError(f"Durat {talk_ms // 1000} but no ConnectTime")
        check_times(start_ms, answer_ms, end_ms, "SetupTime", "ConnectTime", "ReleaseTime")
        trunk = ip_group(f["IPGroup"])
        native_id = f"{call_id}/{session_id}/{report}"
        record = new_record(ctx, FORMAT_NAME, native_id, offset)
        record["call_id"] = call_id
        record["correlation_id"] = session_id or None
        record["record_kind"] = kind
        record["start_ms"] = start_ms
        record["answer_ms"] = answer_ms
        record["end_ms"] = end_ms
        record["duration_ms"] = end_ms - start_ms
        record["billable_ms"] = talk_ms
        record["calling_number"] = uri_user(f["SrcURI"])
        record["called_number"] = uri_user(f["DstURI"])
        record["ingress_trunk"] = trunk if f["Orig"] == "RMT" else None
        record["egress_trunk"] = trunk if f["Orig"] == "LCL" else None
        record["q850_cause"] = q850
        record["sip_code"] = sip_code
        record["disconnect_initiator"] = initiator
        return checked(record)

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        return parse_line(self._parse, line, offset, ctx)

    @staticmethod
    def skip_kind(raw: bytes) -> str:
        """What a line that gave no CDR is (for `cdrflow check`)."""
        fields = _fields(raw)
        if fields is None:
            return "other syslog message"
        report = fields[0]
        if report == MEDIA_TITLE or report in MEDIA_REPORTS:
            return "media report"
        if report in TITLE_FIELDS:
            return "title line"
        return f"{report} report" if report else "empty report"


class AudioCodesSyslogParser:
    """AudioCodes SBC syslog CDR lines (CALL_CONNECT / CALL_END), fields named by title lines."""

    format_name = FORMAT_NAME
    fields = FIELDS

    def for_file(self, first_line: bytes) -> AudioCodesSyslogFile:
        return AudioCodesSyslogFile(first_line)


parse_audiocodes_syslog = AudioCodesSyslogParser()
