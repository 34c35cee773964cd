"""Asterisk cdr_csv (Master.csv) lines → canonical CDRs.

Columns, no header: accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield; with cdr.conf
[csv] newcdrcolumns=yes also peeraccount, linkedid, sequence (19 and 20 columns are accepted too).
Times are switch-local "YYYY-MM-DD HH:MM:SS" with an empty answer when the call was not answered.
"""
from __future__ import annotations

import csv
import hashlib

from cdrflow.producers.local_time import call_times
from cdrflow.producers.parsing import RecordError, SourceContext, parse_line, whole_number
from cdrflow.schemas.cdr import CDR, make_cdr_id

FORMAT_NAME = "asterisk_csv"

# Asterisk reports only the Dial outcome, so the cause is the closest Q.850 value for it.
# FAILED means the outgoing channel could not be created or dialled (DIALSTATUS CHANUNAVAIL, e.g.
# an unreachable peer) and, unless cdr.conf sets congestion=yes, congestion too. On a trunk both
# are network failures: 41 "temporary failure", which RFC 3398 also gives SIP 500/503, puts FAILED
# in the network class for NER beside CONGESTION (34). Unknown dispositions stay None ("other").
DISPOSITION_Q850: dict[str, int] = {
    "ANSWERED": 16, "NO ANSWER": 19, "BUSY": 17, "CONGESTION": 34, "FAILED": 41,
}

_HEX = "0123456789abcdefABCDEF"

# cdr_csv quotes text, doubles embedded quotes and leaves numbers bare; strict turns a stray quote
# into an error instead of a silently merged field. Registered by name because passing the
# options on every csv.reader() call costs ~1 µs a line.
_DIALECT = "cdrflow_asterisk_csv"
csv.register_dialect(_DIALECT, delimiter=",", quotechar='"', doublequote=True, strict=True)


def trunk_from_channel(channel: str) -> str | None:
    """Peer of a channel name: "SIP/carrierA-00000012" → "carrierA", "DAHDI/i1/555-3" → "i1".

    Local channels are dialplan loops, not trunks; NOT_AVAILABLE means there was no channel.
    """
    tech, slash, peer = channel.partition("/")
    if not slash or tech.lower() == "local":
        return None
    head, dash, suffix = peer.rpartition("-")
    if dash and suffix and not suffix.strip(_HEX):  # the per-call "-<hex>" counter
        peer = head
    peer = peer.partition("/")[0]  # DAHDI/i<span>/<number>: the span is the trunk
    return peer or None


def _parse(raw: bytes, offset: int, ctx: SourceContext) -> CDR:
    # Caller names, lastdata and userfield are free text; a Latin-1 name must not cost the record.
    text = raw.decode("utf-8", "replace")
    try:
        row = next(csv.reader((text,), _DIALECT))
    except csv.Error as e:
        # drop Python's "- do you need to open the file in universal-newline mode?" hint
        raise RecordError(f"bad CSV: {str(e).split(' - ')[0]}") from None
    n = len(row)
    if not 18 <= n <= 21:
        raise RecordError(f"expected 18-21 columns, got {n}")
    (_, src, dst, _, _, channel, dstchannel, _, _,
     start, answer, end, duration, billsec, disposition, _, uniqueid, _) = row[:18]
    linkedid = row[19] if n > 19 else ""
    sequence = row[20] if n > 20 else ""
    if not uniqueid:
        raise RecordError("empty uniqueid")
    duration_s = whole_number(duration, "duration", "seconds")
    billsec_s = whole_number(billsec, "billsec", "seconds")

    start_ms, answer_ms, end_ms = call_times(start, answer, end, ctx.timezone)
    if answer_ms is not None:
        # Answer() in the dialplan stamps an answer time even when the dialled party never
        # answered; without talk time only the disposition tells the truth.
        if billsec_s == 0 and disposition != "ANSWERED":
            answer_ms = None
    elif billsec_s:
        raise RecordError(f"billsec {billsec_s} but no answer time")

    # Forked calls repeat uniqueid on several rows and only newer Asterisk writes sequence, so
    # without it the row's bytes and its byte offset tell the legs apart: forks with masked
    # channels can be byte-identical (the sample has 8 such rows), while a re-read or a renamed
    # (rotated) file keeps every row at the same offset and so under the same id.
    if sequence:
        native_id = f"{uniqueid}/{sequence}"
    else:
        native_id = f"{uniqueid}#{hashlib.blake2b(raw, digest_size=6).hexdigest()}@{offset}"

    return CDR.model_validate({
        "cdr_id": make_cdr_id(ctx.source, native_id),
        "source": ctx.source,
        "source_format": FORMAT_NAME,
        "native_id": native_id,
        "call_id": uniqueid,
        "correlation_id": linkedid or None,
        "record_kind": "stop",
        "start_ms": start_ms,
        "answer_ms": answer_ms,
        "end_ms": end_ms,
        "duration_ms": duration_s * 1000,
        "billable_ms": billsec_s * 1000,
        "calling_number": src,
        "called_number": dst,
        "ingress_trunk": trunk_from_channel(channel),
        "egress_trunk": trunk_from_channel(dstchannel),
        "q850_cause": DISPOSITION_Q850.get(disposition),
        "source_file": ctx.source_file,
        "source_offset": offset,
    })


class AsteriskCsvParser:
    """Asterisk cdr_csv (Master.csv), 18-21 columns, no header."""

    format_name = FORMAT_NAME
    fields = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
              "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "call_id",
              "correlation_id")

    def __call__(self, line: bytes, offset: int, ctx: SourceContext) -> CDR | None:
        return parse_line(_parse, line, offset, ctx)


parse_asterisk_csv = AsteriskCsvParser()
