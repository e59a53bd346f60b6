"""The parties of the spec's example flows (80-events §6, 81-events-legacy §5.4), as
members in every state the tests need."""

from __future__ import annotations

import calendar
import time
from typing import Any

from kilopbx.events.call_model import (
    CallDisposition,
    CallMember,
    CallRecord,
    CallType,
    MemberKind,
    MemberStatus,
)

SN = "372816450923"
INBOUND_CALL = "1718869200.731"
INTERNAL_CALL = "1718870100.760"
DIAL_CALL = "1718871500.811"

ALERT, RING = MemberStatus.ALERT, MemberStatus.RING
ANSWERED, ANSWER = MemberStatus.ANSWERED, MemberStatus.ANSWER
HOLD, BYE = MemberStatus.HOLD, MemberStatus.BYE


def inbound(status: MemberStatus | None = None, call_path: str = "") -> CallMember:
    return CallMember.trunk_leg(
        MemberKind.INBOUND,
        caller="0612345678",
        callee="0581234500",
        trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-0000a140",
        leg_id=INBOUND_CALL,
        status=status,
        call_path=call_path,
    )


def outbound(status: MemberStatus | None = None) -> CallMember:
    return CallMember.trunk_leg(
        MemberKind.OUTBOUND,
        caller="2101",
        callee="0623456789",
        trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-0000a1e5",
        leg_id="1718871500.812",
        status=status,
    )


def ext(number: str, status: MemberStatus | None = None, call_path: str = "") -> CallMember:
    counters = {"2101": "a13e", "2102": "a141", "2103": "a142", "2105": "a150"}
    channel = f"PJSIP/{number}-0000{counters[number]}"
    return CallMember.extension(number, channel, status, call_path=call_path)


def forwarded_caller() -> CallMember:
    """The caller of 80-events §4.7: its `to` is the extension that forwards."""
    return CallMember.trunk_leg(
        MemberKind.INBOUND,
        caller="0698765432",
        callee="2105",
        trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-0000a1c2",
        leg_id="1718871005.802",
    )


def failed_outbound() -> CallMember:
    """The external leg of a failed outbound attempt (81-events-legacy §4.12)."""
    return CallMember.trunk_leg(
        MemberKind.OUTBOUND,
        caller="2101",
        callee="0634455667",
        trunk="carrier-a",
        channel_id="PJSIP/trunk-carrier-a-endpoint-0000a1f1",
        leg_id="1718872110.846",
    )


# the legacy party texts of the spec's flows
I_TEXT = (
    '"inbound":{"from":"0612345678","to":"0581234500","trunk":"carrier-a",'
    '"inboundid":"1718869200.731"}'
)
O_TEXT = (
    '"outbound":{"from":"2101","to":"0623456789","trunk":"carrier-a","outboundid":"1718871500.812"}'
)


def E(number: str) -> str:  # the spec's shorthand for an extension party
    return f'"ext":{{"extid":"{number}"}}'


def epoch(text: str) -> float:
    """A spec time (`YYYY-MM-DD HH:MM:SS`) read as UTC; tests pin TZ=UTC (`utc` fixture)."""
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")))


def record(**changes: Any) -> CallRecord:
    """A CDR; by default the spec's inbound call answered by 2102 (80-events §4.5),
    read in UTC (`utc` fixture), with fractions that durations must round down."""
    start = epoch("2024-06-20 09:40:00")
    values: dict[str, Any] = {
        "call_id": "1718869200.731",
        "started_at": start,
        "answered_at": start + 14.2,
        "ended_at": start + 95.7,
        "caller": "0612345678",
        "callee": "2102",
        "disposition": CallDisposition.ANSWERED,
        "call_type": CallType.INBOUND,
        "source_trunk": "carrier-a",
        "recording": "20240620094014-1718869200.731-0612345678-2102-Inbound.wav",
        "did_number": "0581234500",
    }
    return CallRecord(**{**values, **changes})


def missed_outbound_record() -> CallRecord:
    """The spec's unanswered outbound call with a PIN (81-events-legacy §4.15)."""
    start = epoch("2024-06-20 10:31:40")
    return record(
        call_id="1718872300.851",
        started_at=start,
        answered_at=None,
        ended_at=start + 32,
        caller="2101",
        callee="0634455667",
        disposition=CallDisposition.NO_ANSWER,
        call_type=CallType.OUTBOUND,
        source_trunk="",
        destination_trunk="carrier-a",
        pin_code="4821",
        recording="",
        did_number="",
    )
