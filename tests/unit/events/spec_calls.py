"""The parties of the spec's example flows (80-events §6, 81-events-legacy §5.4), as
members in every state the tests need."""

from __future__ import annotations

import calendar
import time

from kilopbx.events.call_model import CallMember, MemberKind, MemberStatus

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
