"""Trunk calls as events and CDRs: the outside party is an `inbound` or `outbound`
member with its numbers and trunk; the CDR has the type, trunks and DID; a refused
outbound call says "NO Outbound Restriction"."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.call_reporting import CallReporter, call_member
from kilopbx.engine.trunk_calls import did_of, outside_party
from kilopbx.engine.trunking import TrunkProfile
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import CallFailed, CallStatus
from kilopbx.events.call_model import CallRecord as Cdr
from kilopbx.events.call_model import CallType, FailureReason, MemberKind, MemberStatus
from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message

OUTSIDE = Member("0612345678", "PJSIP/trunk-Carrier-endpoint-00000001", "caller", "up", "Carrier")
DESK = Member("2002", "PJSIP/2002-00000002", "callee", "up")
BASE = CallRecord(
    call_id="100.1", caller="0612345678", caller_name="", dialled="2002", callee="2002",
    state="answered", started_at=100.0, answered_at=101.0, members=(OUTSIDE, DESK),
    call_type="Inbound", source_trunk="Carrier", did="4402000",
)  # fmt: skip


def test_outside_parties_are_inbound_and_outbound_members() -> None:
    inbound = call_member(BASE, OUTSIDE, MemberStatus.ANSWERED)
    assert (inbound.kind, inbound.caller, inbound.callee) == (
        MemberKind.INBOUND,
        "0612345678",
        "4402000",
    )
    assert inbound.trunk == "Carrier" and inbound.leg_id == "100.1"
    far = Member("00441632", "PJSIP/trunk-ProvA-endpoint-00000003", "callee", "ringing", "ProvA")
    outgoing = replace(BASE, caller="2001", call_type="Outbound", members=(far,))
    outbound = call_member(outgoing, far, MemberStatus.RING)
    assert (outbound.kind, outbound.caller, outbound.callee) == (
        MemberKind.OUTBOUND,
        "2001",
        "00441632",
    )
    assert call_member(BASE, DESK, None).kind is MemberKind.EXTENSION


async def test_cdr_and_call_failed_of_trunk_calls() -> None:
    bus, events = EventBus(), []  # type: list[Event]
    bus.subscribe(events.append)
    cdrs: list[Cdr] = []

    class Recorder:
        async def record_open_call(self, call: object) -> None:
            pass

        async def record(self, record: Cdr) -> object:
            cdrs.append(record)
            return None

    reporter = CallReporter(bus, Recorder)
    reporter.call_ended(replace(BASE, state="ended", ended_at=130.0, disposition="ANSWERED"))
    refused = CallRecord(
        call_id="100.2", caller="2001", caller_name="", dialled="8123", callee="",
        state="ended", started_at=100.0, ended_at=100.0, disposition="FAILED",
        cause="not_permitted", sip_status=403, call_type="Outbound",
        members=(Member("2001", "PJSIP/2001-00000004", "caller", "ended"),),
    )  # fmt: skip
    reporter.call_ended(refused)
    await reporter.drain()
    await asyncio.sleep(0)
    inbound = cdrs[0]
    assert (inbound.call_type, inbound.source_trunk, inbound.did_number) == (
        CallType.INBOUND,
        "Carrier",
        "4402000",
    )
    assert inbound.caller == "0612345678" and inbound.callee == "2002"
    assert cdrs[1].call_type is CallType.OUTBOUND
    failed = [e for e in events if isinstance(e, CallFailed)]
    assert [f.reason for f in failed] == [FailureReason.NO_PERMISSION]


def request(text: str) -> SipRequest:
    message = parse_message(text.replace("\n", "\r\n").encode())
    assert isinstance(message, SipRequest)
    return message


def invite(uri_user: str, to_user: str, from_user: str = "0612345678") -> SipRequest:
    return request(
        f"INVITE sip:{uri_user}@10.0.0.1 SIP/2.0\n"
        "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK1\n"
        f'From: "Out" <sip:{from_user}@carrier.test>;tag=1\n'
        f"To: <sip:{to_user}@10.0.0.1>\nCall-ID: c\nCSeq: 1 INVITE\nMax-Forwards: 70\n"
        "Content-Length: 0\n\n"
    )


def test_the_did_comes_from_the_request_uri_or_the_to_header() -> None:
    trunk = TrunkProfile(
        "Carrier", "register", "carrier.test", "88017734", "", "pw", "", "", "", (), "", 0
    )
    assert did_of(invite("4402000", "999"), trunk) == "4402000"
    assert did_of(invite("88017734", "4402001"), trunk) == "4402001"  # the account name
    assert did_of(invite("pbx", "+4402002"), trunk) == "+4402002"
    assert did_of(invite("pbx", "nobody"), trunk) == "pbx"


def test_a_trunk_declaring_its_dids_says_which_header_carries_the_did() -> None:
    dids = (("Sales", "4402300"), ("Support", "4402301"))
    trunk = TrunkProfile("Carrier", "peer", "carrier.test", "", "", "", "", "", "", (), "", 0, dids)
    # the provider puts its main number in the Request-URI, the DID in the To header
    assert did_of(invite("4402000", "4402301"), trunk) == "4402301"
    assert did_of(invite("4402300", "4402301"), trunk) == "4402300"  # the Request-URI first
    # neither is declared: as without declarations, the Request-URI's number
    assert did_of(invite("4402000", "4402999"), trunk) == "4402000"
    undeclared = TrunkProfile("Carrier", "peer", "carrier.test", "", "", "", "", "", "", (), "", 0)
    assert did_of(invite("4402000", "4402301"), undeclared) == "4402000"


def test_hostile_caller_numbers_become_anonymous() -> None:
    assert outside_party("0612345678", 'Evil "x"\\').display_name == "Evil x"
    for bad in ("", "a" * 40, "12;drop", "²³", "1" * 33):
        assert outside_party(bad, "").number == "anonymous", bad
    assert outside_party("+44123", "").number == "+44123"


def test_an_outside_caller_that_hangs_up_stays_inbound_with_its_callpath() -> None:
    """The snapshot of the caller's departure (BYE first, 80 §4.4) lists the provider's
    caller as the ``inbound`` member it always was, with the IVR it came through."""
    bus, events = EventBus(), []  # type: list[object]
    bus.subscribe(events.append)
    reporter = CallReporter(bus, lambda: None)
    outside, desk = replace(OUTSIDE, call_path="7301"), replace(DESK, call_path="7301")
    talking = replace(BASE, members=(outside, desk))
    reporter.call_answered(talking)
    ended = replace(talking, state="ended", ended_at=130.0, disposition="ANSWERED",
                    cause="caller")  # fmt: skip
    reporter.call_ended(replace(ended, members=tuple(replace(m, state="ended")
                                                     for m in ended.members)))  # fmt: skip
    statuses = [e for e in events if isinstance(e, CallStatus)]
    snapshots = [[(m.kind, m.status, m.call_path) for m in status.members] for status in statuses]
    assert snapshots == [
        [(MemberKind.INBOUND, MemberStatus.ANSWERED, "7301"),
         (MemberKind.EXTENSION, MemberStatus.ANSWER, "7301")],
        [(MemberKind.INBOUND, MemberStatus.BYE, "7301"),
         (MemberKind.EXTENSION, MemberStatus.ANSWER, "7301")],  # the caller left first
        [(MemberKind.EXTENSION, MemberStatus.BYE, "7301")],
    ]  # fmt: skip
