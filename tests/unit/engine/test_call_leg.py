"""A channel's in-dialog requests: BYE, hold by re-INVITE, session refreshes by UPDATE
or an offer-less re-INVITE, bad SDP, methods a call has no use for."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from kilopbx.engine.call_leg import LegOwner, answer_direction
from kilopbx.engine.sdp_negotiation import LegMedia, read_media
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from kilopbx.sip.transaction_user import ServerTransactionHandle

SDP = (
    "v=0\r\no=- 1 2 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=sendonly\r\n"
)
TIMER = [("Session-Expires", "120;refresher=uac"), ("Require", "timer")]


@dataclass
class Call:
    byes: list[str] = field(default_factory=list)
    offers: list[LegMedia] = field(default_factory=list)
    refreshed: int = 0
    refers: list[str] = field(default_factory=list)

    def leg_bye(self, channel: str) -> None:
        self.byes.append(channel)

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        self.offers.append(media)
        return b"v=0 answer"

    def leg_sdp(self, channel: str) -> bytes | None:
        return b"v=0 ours"

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        self.refreshed += 1
        return TIMER

    def leg_refer(self, channel: str, dialog: Any, transaction: Any) -> None:
        self.refers.append(channel)
        transaction.respond(202)


@dataclass
class Transaction:
    request: SipRequest
    answers: list[tuple[int, list[tuple[str, str]], bytes]] = field(default_factory=list)

    def respond(
        self,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        self.answers.append((status, list(headers or []), body))


class Dialog:
    class dialog:
        local_contact = "<sip:pbx@10.0.0.1>"


def request(method: str, body: str = "") -> Transaction:
    text = (
        f"{method} sip:pbx@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKx\r\n"
        "From: <sip:2001@pbx>;tag=a\r\nTo: <sip:pbx@pbx>;tag=b\r\nCall-ID: c\r\n"
        f"CSeq: 5 {method}\r\nContact: <sip:2001@10.0.0.9>\r\nContent-Length: {len(body)}\r\n\r\n"
        + body
    )
    parsed = parse_message(text.encode())
    assert isinstance(parsed, SipRequest)
    return Transaction(parsed)


def deliver(owner: LegOwner, transaction: Transaction) -> None:
    result: Any = owner.on_dialog_request(
        cast(SipDialog, Dialog()), cast(ServerTransactionHandle, transaction)
    )
    if result is not None:
        asyncio.run(result)


def test_bye_is_answered_and_ends_the_channel() -> None:
    call = Call()
    bye = request("BYE")
    deliver(LegOwner(call, "ch-a"), bye)
    assert bye.answers[0][0] == 200 and call.byes == ["ch-a"]


def test_hold_offer_is_answered_by_the_call_with_the_session_timer() -> None:
    call = Call()
    invite = request("INVITE", SDP)
    deliver(LegOwner(call, "ch-a"), invite)
    status, headers, body = invite.answers[0]
    assert (status, body) == (200, b"v=0 answer")
    assert TIMER[0] in headers and ("Content-Type", "application/sdp") in headers
    assert call.offers[0].on_hold and call.refreshed == 1


def test_session_refreshes_without_sdp() -> None:
    call = Call()
    update = request("UPDATE")
    deliver(LegOwner(call, "ch-a"), update)
    status, headers, body = update.answers[0]
    assert (status, body) == (200, b"")  # no offer, so no answer
    assert TIMER[0] in headers
    reinvite = request("INVITE")
    deliver(LegOwner(call, "ch-a"), reinvite)
    assert reinvite.answers[0][2] == b"v=0 ours"  # an offer-less re-INVITE gets our offer
    assert call.refreshed == 2


def test_bad_sdp_is_488_refer_goes_to_the_call_and_unknown_methods_501() -> None:
    call = Call()
    invite = request("INVITE", "v=0\r\nnonsense")
    deliver(LegOwner(call, "ch-a"), invite)
    assert invite.answers[0][0] == 488 and call.offers == []
    refer = request("REFER")
    deliver(LegOwner(call, "ch-a"), refer)
    assert refer.answers[0][0] == 202 and call.refers == ["ch-a"]
    message = request("MESSAGE")
    deliver(LegOwner(call, "ch-a"), message)
    assert message.answers[0][0] == 501
    info = request("INFO")
    deliver(LegOwner(call, "ch-a"), info)
    assert info.answers[0][0] == 200


def test_answer_direction_mirrors_hold() -> None:
    media = read_media(SDP.encode())
    assert answer_direction(media) == "recvonly"
    resumed = read_media(SDP.replace("a=sendonly", "a=sendrecv").encode())
    assert answer_direction(resumed) == "sendrecv"
    null = read_media(SDP.replace("c=IN IP4 10.0.0.9", "c=IN IP4 0.0.0.0").encode())
    assert answer_direction(null) == "inactive"
