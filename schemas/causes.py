"""Cause normalisation, the one place: SIP final responses → Q.850 (RFC 3398 §8.2.6.1) and the
class of each outcome used by NER (ITU-T E.411/E.425).

Classes:
  answered   the call was answered
  user       failed because of the called user: busy (17), no answer (18, 19), rejected (21)
  abandoned  the caller gave up before answer (Q.850 16 unanswered, SIP 487)
  number     number or routing fault: unallocated (1), no route (2, 3), changed (22),
             out of order (27), invalid format (28), normal unspecified (31)
  network    network or resource failure: Q.850 34–47, 102, 111, 127, …
  other      anything else (service/option not available, Cisco-specific > 127, unknown)
"""
from __future__ import annotations

# RFC 3398 section 8.2.6.1 "Mapping SIP response codes to ISUP cause values".
SIP_TO_Q850: dict[int, int] = {
    400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21, 408: 102, 410: 22,
    413: 127, 414: 127, 415: 79, 416: 127, 420: 127, 421: 127, 423: 127, 480: 18, 481: 41,
    482: 25, 483: 25, 484: 28, 485: 1, 486: 17, 488: 127, 500: 41, 501: 79, 502: 38, 503: 41,
    504: 102, 505: 127, 513: 127, 600: 17, 603: 21, 604: 1, 606: 58,
}

USER_CAUSES = frozenset({17, 18, 19, 21})
NUMBER_CAUSES = frozenset({1, 2, 3, 22, 27, 28, 31})
NETWORK_CAUSES = frozenset(range(34, 48)) | frozenset({38, 102, 111, 127})
SIP_CALLER_CANCEL = 487
# Causes that say the called party never answered: the user class (busy, no answer, rejected) and
# the number faults no call reaches an answer past (unallocated, no route, changed, bad format).
# An answered call may still end with 16, 31 (normal unspecified) or a network cause (dropped
# mid-call), so those are not here. The CDR contract refuses an answered CDR with one of these.
NON_ANSWER_CAUSES = USER_CAUSES | frozenset({1, 2, 3, 22, 28})


# Cisco CUCM writes Q.850 values (0 = no error) in origCause_value/destCause_value, and above 127
# its own 32-bit codes for PBX call-control events — e.g. 128 / 458752 conference drop any party,
# 262144 conference full, 393216 call split (transfer) — and SIP-derived codes such as 16777257.
# They are not failures of the network, so they carry no Q.850 cause and classify as "other".
CISCO_MAX_Q850 = 127
MAX_Q850 = 127


def q850_value(value: int) -> int | None:
    """A switch's numeric Q.850 cause field (Ribbon disconnect reason, FreeSWITCH
    hangup_cause_q850, …) → Q.850; 0 (no cause) and values outside Q.850 → None."""
    return value if 0 < value <= MAX_Q850 else None


def q850_from_cisco(value: int) -> int | None:
    """A CUCM cause value → Q.850; 0 (no error) and Cisco-specific codes above 127 → None."""
    return q850_value(value) if value <= CISCO_MAX_Q850 else None


def q850_from_sip(sip_code: int | None) -> int | None:
    return None if sip_code is None else SIP_TO_Q850.get(sip_code)


def is_non_answer(q850: int | None) -> bool:
    """True for a Q.850 cause an answered call cannot carry (NON_ANSWER_CAUSES)."""
    return q850 in NON_ANSWER_CAUSES


def classify(answered: bool, q850: int | None, sip_code: int | None = None) -> str:
    """Class of a call's outcome; the Q.850 cause wins over the SIP code when both are known."""
    if answered:
        return "answered"
    if q850 is None:
        if sip_code == SIP_CALLER_CANCEL:
            return "abandoned"
        q850 = q850_from_sip(sip_code)
    if q850 is None:
        return "other"
    if q850 in USER_CAUSES:
        return "user"
    if q850 == 16:
        return "abandoned"
    if q850 in NUMBER_CAUSES:
        return "number"
    if q850 in NETWORK_CAUSES:
        return "network"
    return "other"


# FreeSWITCH hangup cause names (switch_types.h, switch_channel.c CAUSE_CHART) → Q.850. The names
# above 127 are FreeSWITCH's own; ORIGINATOR_CANCEL (487) is the caller giving up before answer,
# which is Q.850 16 "normal clearing" on an unanswered call, as a CANCEL is cleared towards ISUP.
FREESWITCH_CAUSES: dict[str, int] = {
    "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
    "CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
    "RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
    "ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
    "FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54,
    "BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
    "BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69,
    "SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97,
    "WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
    "INTERWORKING": 127, "ORIGINATOR_CANCEL": 16,
}


def q850_from_freeswitch(cause_name: str, q850_field: int | None = None) -> int | None:
    """FreeSWITCH hangup_cause (and hangup_cause_q850 when written) → Q.850."""
    known = FREESWITCH_CAUSES.get(cause_name)
    if known is not None:
        return known
    return None if q850_field is None else q850_value(q850_field)


# AudioCodes TrmReason: the device's names of Q.850 causes (GWAPP_ + the Q.931 wording); its
# RELEASE_BECAUSE_… reasons are internal (no resources, unmatched capabilities, forward …) and
# carry no Q.850 cause.
AUDIOCODES_TRM_REASONS: dict[str, int] = {
    "GWAPP_UNASSIGNED_NUMBER": 1, "GWAPP_NO_ROUTE_TO_TRANSIT_NET": 2, "GWAPP_NO_ROUTE_TO_DESTINATION": 3,
    "GWAPP_CHANNEL_UNACCEPTABLE": 6, "GWAPP_NORMAL_CALL_CLEAR": 16, "GWAPP_USER_BUSY": 17,
    "GWAPP_NO_USER_RESPONDING": 18, "GWAPP_NO_ANSWER_FROM_USER_ALERTED": 19, "GWAPP_CALL_REJECTED": 21,
    "GWAPP_NUMBER_CHANGED": 22, "GWAPP_NON_SELECTED_USER_CLEARING": 26,
    "GWAPP_DESTINATION_OUT_OF_ORDER": 27, "GWAPP_INVALID_NUMBER_FORMAT": 28, "GWAPP_FACILITY_REJECT": 29,
    "GWAPP_RESPONSE_TO_STATUS_ENQUIRY": 30, "GWAPP_NORMAL_UNSPECIFIED": 31, "GWAPP_NO_CIRCUIT_AVAILABLE": 34,
    "GWAPP_NETWORK_OUT_OF_ORDER": 38, "GWAPP_NETWORK_TEMPORARY_FAILURE": 41,
    "GWAPP_NETWORK_CONGESTION": 42, "GWAPP_ACCESS_INFORMATION_DISCARDED": 43,
    "GWAPP_REQUESTED_CIRCUIT_NOT_AVAILABLE": 44, "GWAPP_RESOURCE_UNAVAILABLE_UNSPECIFIED": 47,
    "GWAPP_SERVICE_NOT_AVAILABLE": 63, "GWAPP_BEARER_CAPABILITY_NOT_IMPLEMENTED": 65,
    "GWAPP_RECOVERY_ON_TIMER_EXPIRY": 102, "GWAPP_PROTOCOL_ERROR_UNSPECIFIED": 111,
    "GWAPP_INTERWORKING_UNSPECIFIED": 127,
}
