"""Kamailio / OpenSIPS acc rows (one per SIP transaction) → canonical CDRs, one per call.

acc writes a row when a transaction ends: the INVITE's final reply, later the BYE's, plus
challenges and in-dialog requests. Rows come as CSV with a header naming the columns (acc
exported from its database table, or db_text/flatstore written with one), read by name.

This is a record-grouping stage (a GroupingParser, see parsing.py), one per file:
- INVITE 401/407: an authentication challenge, not a call; the caller retries with credentials.
- INVITE 2xx: the call is answered; the row is held (None) until the BYE of its Call-ID.
- INVITE 3xx-6xx: an unanswered call, given at once — these are the rows acc's missed-call flag
  also logs. 487 is the caller cancelling (abandoned, initiator caller).
- BYE: closes the held call. Its From tag is the INVITE's From tag when the caller hung up and
  the INVITE's To tag when the callee did. A BYE with no held INVITE (a second BYE, or a call
  whose INVITE is in an earlier file or before the checkpoint) gives None.
- A held call without a BYE after MAX_CALL_MS of later rows, or still open when the file ends,
  is given with its end unknown: end = answer, duration 0.
acc logs the time of the final reply, not of the INVITE, so start = answer (or end) and PDD is
unknown. Dispatcher/drouting gateway groups (src/dst_gwgroupid, as in dr_gateways' gwgroup:N)
become the trunks "gwgroup:N"; calling/called are src_user and dst_ouser (the R-URI as received).
"""
from __future__ import annotations

from dataclasses import dataclass

from cdrflow.schemas.causes import SIP_CALLER_CANCEL, q850_from_sip

from .cdr_record import checked, new_record
from .local_time import local_ms
from .parsing import CDRRecord, Columns, CsvLineParser, HeaderCsvFormat, RecordError, SourceContext, whole_number

FORMAT_NAME = "kamailio_acc"
FIELDS = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
          "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "sip_code",
          "disconnect_initiator", "call_id")
REQUIRED = ("method", "from_tag", "to_tag", "callid", "sip_code", "time")
OPTIONAL = ("src_user", "dst_ouser", "dst_user", "src_gwgroupid", "dst_gwgroupid")
AUTH_CHALLENGES = frozenset({401, 407})
# Kamailio's dialog module ends a dialog after 12 h (dlg default_timeout 43200 s) by default.
MAX_CALL_MS = 12 * 3600 * 1000
ANSWERED_Q850 = 16


def _trunk(group: str) -> str | None:
    return f"gwgroup:{group}" if group and group != "0" else None


@dataclass
class _HeldCall:
    row: dict[str, str]     # the 2xx INVITE's row
    offset: int
    ctx: SourceContext
    answer_ms: int
    code: int


class KamailioAccFile(CsvLineParser):
    """Kamailio/OpenSIPS acc rows of one file, INVITE and BYE paired into calls."""

    format_name = FORMAT_NAME
    fields = FIELDS

    def __init__(self, columns: Columns, max_call_ms: int = MAX_CALL_MS):
        self.columns = columns
        self.split = columns.split
        self.max_call_ms = max_call_ms
        self.held: dict[str, _HeldCall] = {}   # Call-ID → answered call, in file order
        self.latest_ms = 0

    def held_from(self) -> int | None:
        return next(iter(self.held.values())).offset if self.held else None

    def drain(self, final: bool) -> list[CDRRecord]:
        expired = [call_id for call_id, call in self.held.items()
                   if final or call.answer_ms < self.latest_ms - self.max_call_ms]
        return [self._ended(self.held.pop(call_id), None, None) for call_id in expired]

    def _ended(self, call: _HeldCall, end_ms: int | None, initiator: str | None) -> CDRRecord:
        return _call_record(call.row, call.offset, call.ctx, call.answer_ms, call.code,
                            call.answer_ms if end_ms is None else end_ms, initiator)

    def record(self, values: tuple[str, ...], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        if raw == self.columns.header_line:
            return None
        row = self.columns.named(values)
        call_id, method = row["callid"], row["method"].upper()
        if not call_id:
            raise RecordError("empty callid")
        code = whole_number(row["sip_code"], "sip_code", "a SIP status", 3)
        if not 100 <= code <= 699:
            raise RecordError(f"sip_code {code} is not a SIP status")
        time_ms = local_ms(row["time"], ctx.timezone)
        if time_ms > self.latest_ms:
            self.latest_ms = time_ms
        if method == "BYE":
            call = self.held.pop(call_id, None)
            if call is None:
                return None
            if time_ms < call.answer_ms:
                raise RecordError(f"BYE at {row['time']!r} is before the call was answered")
            tag = row["from_tag"]
            initiator = ("caller" if tag == call.row["from_tag"] else "callee" if tag == call.row["to_tag"]
                         else "unknown")
            return self._ended(call, time_ms, initiator)
        if method != "INVITE" or code < 200 or code in AUTH_CHALLENGES or call_id in self.held:
            return None  # other requests, provisional replies, challenges, re-INVITEs
        if code < 300:
            self.held[call_id] = _HeldCall(row, offset, ctx, time_ms, code)
            return None
        return _call_record(row, offset, ctx, time_ms, code, time_ms, "caller" if code == SIP_CALLER_CANCEL else None)


def _call_record(row: dict[str, str], offset: int, ctx: SourceContext, time_ms: int, code: int, end_ms: int,
                 initiator: str | None) -> CDRRecord:
    """The CDR of a call from its INVITE's row, given at time_ms with a final reply `code`
    (answered then if 2xx), and its end (time_ms for an unanswered call)."""
    answered = 200 <= code < 300
    talk_ms = end_ms - time_ms
    record = new_record(ctx, FORMAT_NAME, f"{row['callid']}@{offset}", offset)
    record["call_id"] = row["callid"]
    record["start_ms"] = time_ms
    record["answer_ms"] = time_ms if answered else None
    record["end_ms"] = end_ms
    record["duration_ms"] = talk_ms
    record["billable_ms"] = talk_ms
    record["calling_number"] = row["src_user"]
    record["called_number"] = row["dst_ouser"] or row["dst_user"]
    record["ingress_trunk"] = _trunk(row["src_gwgroupid"])
    record["egress_trunk"] = _trunk(row["dst_gwgroupid"])
    record["q850_cause"] = ANSWERED_Q850 if answered else q850_from_sip(code)
    record["sip_code"] = code
    record["disconnect_initiator"] = initiator
    return checked(record)


class KamailioAccParser(HeaderCsvFormat):
    """Kamailio/OpenSIPS acc CSV with a header: SIP transactions paired into calls."""

    format_name = FORMAT_NAME
    fields = FIELDS
    required = REQUIRED
    optional = OPTIONAL
    parser_for_columns = KamailioAccFile


parse_kamailio_acc = KamailioAccParser()
