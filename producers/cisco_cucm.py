"""Cisco CUCM CDR files (cdr_<cluster>_<node>_<date>_<seq>) → canonical CDRs.

A CUCM file starts with a header row naming the columns and a row of their SQL types; the
columns move between releases, so they are read by name: the registry entry is a FileParser and
the file source builds one CucmFileParser per file from its first line (see parsing.py). Both
rows give None. Only end-of-call records (cdrRecordType 1) are calls; CMR rows (2) give None.

A file whose two header rows were stripped (files concatenated for analysis) is read in the
standard column order of its release, told by its first row's column count (RELEASE_WIDTHS) or
named by Settings.cucm_release; CUCM only appends columns, so each release's order is a prefix of
CUCM_COLUMNS (the CDR field list of Cisco's "CDR Analysis and Reporting Administration Guide").

Times are UTC epoch seconds; dateTimeConnect 0 means the call was not answered and `duration`
is connect → disconnect. The party that cleared the call has its cause value set, the other 0
(CUCM CDR definition), which also tells who hung up. Phones, gateways and SIP trunks are all
devices: origDeviceName / destDeviceName become the trunks, and enrichment maps the trunk
devices to interconnects. CUCM writes no SIP code and no PDD.
"""
from __future__ import annotations

from cdrflow.infra.config import Settings
from cdrflow.schemas.causes import q850_from_cisco

from .cdr_record import checked, new_record
from .parsing import (CDRRecord, Columns, CsvLineParser, HeaderCsvFormat, LineParser, RecordError, SourceContext,
                      UnreadableFile, csv_row, whole_number)

FORMAT_NAME = "cisco_cucm"
FIELDS = ("start_ms", "answer_ms", "end_ms", "duration_ms", "billable_ms", "calling_number",
          "called_number", "ingress_trunk", "egress_trunk", "q850_cause", "disconnect_initiator",
          "call_id")
END_OF_CALL_RECORD = "1"
# cdrRecordType as the header row, the type row, a start record (0, unused) and a CMR (2) have it
NOT_A_CALL = frozenset({"cdrRecordType", "INTEGER", "0", "2"})
REQUIRED = ("cdrRecordType", "globalCallID_callManagerId", "globalCallID_callId", "pkid",
            "dateTimeOrigination", "dateTimeConnect", "dateTimeDisconnect", "duration",
            "callingPartyNumber", "originalCalledPartyNumber", "origCause_value", "destCause_value",
            "origDeviceName", "destDeviceName")
_CAUSE_DIGITS = 10  # 32-bit unsigned

# Every CDR column, in the order CUCM 12.5 and later write them (the CUCM 15 sample's header).
CUCM_COLUMNS = (
    "cdrRecordType", "globalCallID_callManagerId", "globalCallID_callId", "origLegCallIdentifier",
    "dateTimeOrigination", "origNodeId", "origSpan", "origIpAddr", "callingPartyNumber",
    "callingPartyUnicodeLoginUserID", "origCause_location", "origCause_value", "origPrecedenceLevel",
    "origMediaTransportAddress_IP", "origMediaTransportAddress_Port", "origMediaCap_payloadCapability",
    "origMediaCap_maxFramesPerPacket", "origMediaCap_g723BitRate", "origVideoCap_Codec",
    "origVideoCap_Bandwidth", "origVideoCap_Resolution", "origVideoTransportAddress_IP",
    "origVideoTransportAddress_Port", "origRSVPAudioStat", "origRSVPVideoStat", "destLegIdentifier",
    "destNodeId", "destSpan", "destIpAddr", "originalCalledPartyNumber", "finalCalledPartyNumber",
    "finalCalledPartyUnicodeLoginUserID", "destCause_location", "destCause_value", "destPrecedenceLevel",
    "destMediaTransportAddress_IP", "destMediaTransportAddress_Port", "destMediaCap_payloadCapability",
    "destMediaCap_maxFramesPerPacket", "destMediaCap_g723BitRate", "destVideoCap_Codec",
    "destVideoCap_Bandwidth", "destVideoCap_Resolution", "destVideoTransportAddress_IP",
    "destVideoTransportAddress_Port", "destRSVPAudioStat", "destRSVPVideoStat", "dateTimeConnect",
    "dateTimeDisconnect", "lastRedirectDn", "pkid", "originalCalledPartyNumberPartition",
    "callingPartyNumberPartition", "finalCalledPartyNumberPartition", "lastRedirectDnPartition", "duration",
    "origDeviceName", "destDeviceName", "origCallTerminationOnBehalfOf", "destCallTerminationOnBehalfOf",
    "origCalledPartyRedirectOnBehalfOf", "lastRedirectRedirectOnBehalfOf", "origCalledPartyRedirectReason",
    "lastRedirectRedirectReason", "destConversationId", "globalCallId_ClusterID", "joinOnBehalfOf", "comment",
    "authCodeDescription", "authorizationLevel", "clientMatterCode", "origDTMFMethod", "destDTMFMethod",
    "callSecuredStatus", "origConversationId", "origMediaCap_Bandwidth", "destMediaCap_Bandwidth",
    "authorizationCodeValue", "outpulsedCallingPartyNumber", "outpulsedCalledPartyNumber", "origIpv4v6Addr",
    "destIpv4v6Addr", "origVideoCap_Codec_Channel2", "origVideoCap_Bandwidth_Channel2",
    "origVideoCap_Resolution_Channel2", "origVideoTransportAddress_IP_Channel2",
    "origVideoTransportAddress_Port_Channel2", "origVideoChannel_Role_Channel2", "destVideoCap_Codec_Channel2",
    "destVideoCap_Bandwidth_Channel2", "destVideoCap_Resolution_Channel2",
    "destVideoTransportAddress_IP_Channel2", "destVideoTransportAddress_Port_Channel2",
    "destVideoChannel_Role_Channel2", "IncomingProtocolID", "IncomingProtocolCallRef", "OutgoingProtocolID",
    "OutgoingProtocolCallRef", "currentRoutingReason", "origRoutingReason", "lastRedirectingRoutingReason",
    "huntPilotPartition", "huntPilotDN", "calledPartyPatternUsage", "IncomingICID", "IncomingOrigIOI",
    "IncomingTermIOI", "OutgoingICID", "OutgoingOrigIOI", "OutgoingTermIOI",
    "outpulsedOriginalCalledPartyNumber", "outpulsedLastRedirectingNumber", "wasCallQueued",
    "totalWaitTimeInQueue", "callingPartyNumber_uri", "originalCalledPartyNumber_uri",
    "finalCalledPartyNumber_uri", "lastRedirectDn_uri", "mobileCallingPartyNumber",
    "finalMobileCalledPartyNumber", "origMobileDeviceName", "destMobileDeviceName", "origMobileCallDuration",
    "destMobileCallDuration", "mobileCallType", "originalCalledPartyPattern", "finalCalledPartyPattern",
    "lastRedirectingPartyPattern", "huntPilotPattern", "origDeviceType", "destDeviceType",
    "origDeviceSessionID", "destDeviceSessionID",
)
# column count of a headerless file → the releases that write it: 10.x-12.0 end at
# huntPilotPattern; 12.5 appended the device types and session ids (14 and 15 write the same)
RELEASE_WIDTHS = {129: "10.x-12.0", 133: "12.5-15"}
# Settings.cucm_release → its column count
RELEASES = {"10": 129, "11": 129, "12": 129, "12.5": 133, "14": 133, "15": 133}


# epoch seconds text → ms: a busy cluster's CDRs share their seconds, so most cost one lookup
_epoch_cache: dict[str, int] = {"0": 0}
_MAX_CACHED_SECONDS = 200_000


def _epoch_ms(text: str, column: str) -> int:
    ms = _epoch_cache.get(text)
    if ms is None:
        ms = whole_number(text, column, "epoch seconds") * 1000
        if len(_epoch_cache) > _MAX_CACHED_SECONDS:
            _epoch_cache.clear()
        _epoch_cache[text] = ms
    return ms


def _initiator(orig_cause: int, dest_cause: int) -> str:
    if orig_cause:
        return "caller"
    return "callee" if dest_cause else "unknown"


class CucmFileParser(CsvLineParser):
    """Cisco CUCM CDR file, columns read by name from its header row."""

    format_name = FORMAT_NAME
    fields = FIELDS

    def __init__(self, columns: Columns):
        self.columns = columns
        self.split = columns.split   # the REQUIRED columns, in that order

    def record(self, values: tuple[str, ...], raw: bytes, offset: int, ctx: SourceContext) -> CDRRecord | None:
        (kind, manager_id, global_call_id, pkid, origination, connect, disconnect, duration, calling, called,
         orig_cause_text, dest_cause_text, orig_device, dest_device) = values
        if kind in NOT_A_CALL:
            return None
        if kind != END_OF_CALL_RECORD:
            raise RecordError(f"unknown cdrRecordType {kind[:20]!r}")
        if not pkid:
            raise RecordError("empty pkid")
        start_ms = _epoch_ms(origination, "dateTimeOrigination")
        connect_ms = _epoch_ms(connect, "dateTimeConnect")
        end_ms = _epoch_ms(disconnect, "dateTimeDisconnect")
        billable_ms = whole_number(duration, "duration", "seconds") * 1000
        if end_ms < start_ms:
            raise RecordError(f"dateTimeDisconnect {end_ms // 1000} is before dateTimeOrigination {start_ms // 1000}")
        answer_ms = connect_ms or None
        if answer_ms is not None and not start_ms <= answer_ms <= end_ms:
            raise RecordError("dateTimeConnect is outside dateTimeOrigination .. dateTimeDisconnect")
        if answer_ms is None and billable_ms:
            raise RecordError(f"duration {billable_ms // 1000} but dateTimeConnect 0")
        orig_cause = whole_number(orig_cause_text, "origCause_value", "cause", _CAUSE_DIGITS)
        dest_cause = whole_number(dest_cause_text, "destCause_value", "cause", _CAUSE_DIGITS)
        record = new_record(ctx, FORMAT_NAME, pkid, offset)
        record["call_id"] = f"{manager_id}-{global_call_id}"
        record["start_ms"] = start_ms
        record["answer_ms"] = answer_ms
        record["end_ms"] = end_ms
        record["duration_ms"] = end_ms - start_ms
        record["billable_ms"] = billable_ms
        record["calling_number"] = calling
        record["called_number"] = called
        record["ingress_trunk"] = orig_device or None
        record["egress_trunk"] = dest_device or None
        record["q850_cause"] = q850_from_cisco(orig_cause or dest_cause)
        record["disconnect_initiator"] = _initiator(orig_cause, dest_cause)
        return checked(record)


class CucmParser(HeaderCsvFormat):
    """Cisco CUCM CDR files: header and type rows, epoch seconds, causes, devices as trunks."""

    format_name = FORMAT_NAME
    fields = FIELDS
    required = REQUIRED
    parser_for_columns = CucmFileParser

    def for_file(self, first_line: bytes) -> LineParser:
        if b"cdrRecordType" in first_line:   # the header row names it; no data row holds it
            return super().for_file(first_line)
        return self.headerless(first_line, Settings().cucm_release)

    def headerless(self, first_line: bytes, release: str) -> LineParser:
        """The parser of a file without its header rows: the release's standard columns."""
        if release == "auto":
            try:
                width = len(csv_row(first_line.rstrip(b"\r\n")))
            except RecordError as e:
                return UnreadableFile(FORMAT_NAME, f"no header, and the first row does not split ({e})")
            if width not in RELEASE_WIDTHS:
                counts = ", ".join(f"{n} ({releases})" for n, releases in RELEASE_WIDTHS.items())
                return UnreadableFile(FORMAT_NAME, f"no header, and {width} columns is no release's standard "
                                                   f"layout ({counts}); set cucm_release")
            origin = f"CUCM {RELEASE_WIDTHS[width]} without a header"
        else:
            width = RELEASES[release]
            origin = f"CUCM {release} (cucm_release) without a header"
        header = ",".join(CUCM_COLUMNS[:width]).encode()
        return CucmFileParser(Columns(header, REQUIRED, origin=origin))


parse_cisco_cucm = CucmParser()
