"""Asterisk cdr_csv (Master.csv) lines → canonical CDRs.

Columns, no header: accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata,
start, answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield; with cdr.conf
[csv] newcdrcolumns=yes also peeraccount, linkedid, sequence (19 and 20 columns are accepted too).
Times are switch-local "YYYY-MM-DD HH:MM:SS" with an empty answer when the call was not answered.
"""
from __future__ import annotations

from hashlib import blake2b
from typing import Any, Callable

from cdrflow.producers.cdr_record import checked, new_record
from cdrflow.producers.local_time import call_times
from cdrflow.producers.parsing import (CDRRecord, CsvLineParser, RecordError, SourceContext, column_split,
                                      whole_number)

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

def trunk_from_channel(channel: str) -> str | None:
    """Peer of a channel name: "SIP/carrierA-00000012" → "carrierA", "DAHDI/i1/555-3" → "i1".

    Local channels are dialplan loops, not trunks; NOT_AVAILABLE means there was no channel.
    """
    head, dash, suffix = channel.rpartition("-")
    if dash and suffix and not suffix.strip(_HEX):
        # the per-call "-<hex>" counter: a hex suffix has no "/", so its dash is in the peer
        # (or there is no "/" and so no trunk, either way)
        channel = head
    trunk = _trunks.get(channel, _UNSET)
    if trunk is _UNSET:
        if len(_trunks) > _MAX_CACHED_CHANNELS:
            _trunks.clear()
        trunk = _trunks[channel] = _peer(channel)
    return trunk


# channel name without its counter → trunk: a switch has few peers, and each call names two
_trunks: dict[str, str | None] = {}
_MAX_CACHED_CHANNELS = 100_000
_UNSET: Any = object()     # tells a channel not cached from one cached as None


def _peer(channel: str) -> str | None:
    tech, slash, peer = channel.partition("/")
    if not slash or tech.lower() == "local":
        return None
    if "/" in peer:
        peer = peer.partition("/")[0]  # DAHDI/i<span>/<number>: the span is the trunk
    return peer or None


def asterisk_answer(disposition: str, answer_ms: int | None, billsec_ms: int, start_ms: int,
                    end_ms: int) -> tuple[int | None, int]:
    """(answer_ms, billable_ms) by Asterisk's own verdict, the disposition: ANSWERED is answered,
    anything else is not, whatever the answer time says. Answer() or Playback() in the dialplan
    answers the caller's channel, so a row whose Dial got NO ANSWER may carry an answer time and
    even billsec: that row is stored unanswered, answer time dropped and billable 0 (billable_ms
    is answer → end of an answered call). An ANSWERED row without an answer time (a database
    export has only calldate) was answered billsec before its end. A row without a disposition
    (a cdr_custom layout that omits it) is answered when it has an answer time and talk time."""
    if disposition:
        if disposition != "ANSWERED":
            return None, 0
        if answer_ms is None:
            answer_ms = end_ms - billsec_ms
            if answer_ms < start_ms:
                raise RecordError(f"billsec {billsec_ms / 1000:g} is longer than the call")
        return answer_ms, billsec_ms
    if answer_ms is None:
        if billsec_ms:
            raise RecordError(f"billsec {billsec_ms / 1000:g} but no answer time")
        return None, 0
    return (answer_ms, billsec_ms) if billsec_ms else (None, 0)


# The values asterisk_record reads, in this order (cdr_custom layouts pick the same names).
READ = ("uniqueid", "start", "answer", "end", "duration", "billsec", "disposition", "src", "dst", "channel",
        "dstchannel", "linkedid", "sequence")
# their cdr_csv columns; linkedid and sequence (newcdrcolumns) are "" past a shorter row's last
_CSV_COLUMNS = (16, 9, 10, 11, 12, 13, 14, 1, 2, 5, 6, 19, 20)



_SMALL_SECONDS_MS = {str(n): n * 1000 for n in range(10_000)}


def whole_seconds_ms(text: str, column: str) -> int:
    ms = _SMALL_SECONDS_MS.get(text)   # what whole_number gives, in one lookup
    return whole_number(text, column, "seconds") * 1000 if ms is None else ms


def asterisk_record(ctx: SourceContext, format_name: str, raw: bytes, offset: int, values: tuple,
                    seconds_ms: Callable[[str, str], int]) -> CDRRecord:
    """One Asterisk CDR row's READ values (cdr_csv, or a cdr_custom layout) → the canonical record.
    seconds_ms reads duration and billsec; a duration of None (a layout without it) is end - start."""
    (uniqueid, start, answer, end, duration, billsec, disposition, src, dst, channel, dstchannel, linkedid,
     sequence) = values
    if not uniqueid:
        raise RecordError("empty uniqueid")
    duration_ms = None if duration is None else seconds_ms(duration, "duration")
    billsec_ms = seconds_ms(billsec, "billsec")
    start_ms, answer_ms, end_ms = call_times(start, answer, end, ctx.timezone)
    return asterisk_cdr(ctx, format_name, raw, offset, uniqueid, start_ms, answer_ms, end_ms,
                        end_ms - start_ms if duration_ms is None else duration_ms, billsec_ms, disposition,
                        src, dst, channel, dstchannel, linkedid, sequence)


def asterisk_cdr(ctx: SourceContext, format_name: str, raw: bytes, offset: int, uniqueid: str, start_ms: int,
                 answer_ms: int | None, end_ms: int, duration_ms: int, billsec_ms: int, disposition: str,
                 src: str, dst: str, channel: str, dstchannel: str, linkedid: str, sequence: str) -> CDRRecord:
    """An Asterisk CDR row, its times read, → the canonical record (every Asterisk format's one way)."""
    answer_ms, billsec_ms = asterisk_answer(disposition, answer_ms, billsec_ms, start_ms, end_ms)

    # Forked calls repeat uniqueid on several rows and only newer Asterisk writes sequence, so
    # without it the row's bytes and its byte offset tell the legs apart: forks with masked
    # channels can be byte-identical (the sample has 8 such rows), while a re-read or a renamed
    # (rotated) file keeps every row at the same offset and so under the same id.
    if sequence:
        native_id = f"{uniqueid}/{sequence}"
    else:
        native_id = f"{uniqueid}#{blake2b(raw, digest_size=6).hexdigest()}@{offset}"

    record = new_record(ctx, format_name, native_id, offset)
    record["call_id"] = uniqueid
    record["correlation_id"] = linkedid or None
    record["start_ms"] = start_ms
    record["answer_ms"] = answer_ms
    record["end_ms"] = end_ms
    record["duration_ms"] = duration_ms
    record["billable_ms"] = billsec_ms
    record["calling_number"] = src
    record["called_number"] = dst
    record["ingress_trunk"] = trunk_from_channel(channel)
    record["egress_trunk"] = trunk_from_channel(dstchannel)
    record["q850_cause"] = DISPOSITION_Q850.get(disposition)
    return checked(record)


class AsteriskCsvParser(CsvLineParser):
    """Asterisk cdr_csv (Master.csv), 18-21 columns, no header."""

    format_name = FORMAT_NAME
    fields = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
              "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "call_id",
              "correlation_id")

    split = staticmethod(column_split(_CSV_COLUMNS))

    def record(self, picked: tuple[int, tuple[str, ...]], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord:
        n, values = picked
        if not 18 <= n <= 21:
            raise RecordError(f"expected 18-21 columns, got {n}")
        return asterisk_record(ctx, FORMAT_NAME, raw, offset, values, whole_seconds_ms)


parse_asterisk_csv = AsteriskCsvParser()
