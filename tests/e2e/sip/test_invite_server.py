"""ServerInvite against a phone on a raw socket: ringing, answer retransmitted until
the ACK, no ACK (then BYE), CANCEL (one To tag throughout), rejection, the flow the
phone used (its NATed UDP address, its TCP connection); the checks before any
handler (420, 483) and an INVITE nobody answers (408)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from kilopbx.sip.dialog_user import MAX_QUEUED
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.parser import parse_message
from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from tests.e2e.sip.dialog_helpers import Callee, raw_request, running
from tests.e2e.sip.helpers import HOST, WAIT, RecordingHandler, TcpClient, UdpClient

CLOSED_PORT = 9  # a Contact port nothing listens on: what a NATed phone advertises


@contextlib.asynccontextmanager
async def phone_for(stack: SipStack) -> AsyncIterator[UdpClient]:
    """A phone on a UDP socket of its own, talking to ``stack``."""
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        UdpClient, remote_addr=(HOST, stack.port)
    )
    try:
        yield client
    finally:
        transport.close()


async def next_message(client: UdpClient) -> SipRequest | SipResponse:
    return parse_message(await asyncio.wait_for(client.received.get(), WAIT))


async def until_status(client: UdpClient, status: int) -> dict[int, SipResponse]:
    seen: dict[int, SipResponse] = {}
    while status not in seen:
        response = await client.response()
        seen[response.status] = response
    return seen


async def test_answer_repeats_until_the_ack_which_is_reported(
    callee: tuple[Callee, SipStack],
) -> None:
    handler, stack = callee
    async with phone_for(stack) as phone:
        phone.send(raw_request("INVITE", phone.port, cseq=1, contact_port=CLOSED_PORT))
        seen = await until_status(phone, 200)
        tag = seen[200].to.tag
        assert tag and seen[180].to.tag == tag
        assert seen[200].headers.get("Contact") == f"<sip:callee@{HOST}:{stack.port}>"
        assert seen[200].body == b"v=0\r\n"
        again = await phone.response()  # §13.3.1.4: the 2xx again, no ACK yet
        assert again.status == 200 and again.to.tag == tag
        phone.send(raw_request("ACK", phone.port, to_tag=tag, cseq=1))
        leg = handler.legs[0]
        ack = await asyncio.wait_for(leg.acknowledged(), WAIT)
        assert ack is not None and ack.method == "ACK"
        # The callee hangs up: the BYE goes where the phone sends from, not to its
        # Contact (port 9 here, as behind NAT).
        assert leg.dialog is not None
        bye_sent = asyncio.ensure_future(leg.dialog.request("BYE"))
        bye = await next_message(phone)
        while not isinstance(bye, SipRequest):  # a last retransmitted 200 may be on its way
            bye = await next_message(phone)
        assert bye.method == "BYE" and bye.uri == f"sip:phone@{HOST}:{CLOSED_PORT}"
        phone.send(make_response(bye, 200).to_bytes())
        assert (await asyncio.wait_for(bye_sent, WAIT)).status == 200
        assert len(stack.dialogs) == 0


async def test_answer_never_acked_gives_none_and_a_bye() -> None:
    handler = Callee()
    async with (
        running(handler, TimerConfig(t1=0.02, t2=0.16, t4=0.2)) as stack,
        phone_for(stack) as phone,
    ):
        phone.send(raw_request("INVITE", phone.port, cseq=1))
        await until_status(phone, 200)
        assert await asyncio.wait_for(handler.legs[0].acknowledged(), WAIT) is None
        while True:
            message = await next_message(phone)
            if isinstance(message, SipRequest):
                break
        assert message.method == "BYE"


async def test_cancel_answers_with_the_ringing_tag_and_ends_the_early_dialog() -> None:
    handler = Callee(answer=False)
    timers = TimerConfig(t1=0.05, t2=0.4, t4=0.5, provisional_refresh=0.2)
    async with running(handler, timers) as stack, phone_for(stack) as phone:
        phone.send(raw_request("INVITE", phone.port, cseq=1))
        ringing = (await until_status(phone, 180))[180]
        again = await phone.response()  # §13.3.1.1: the ringing repeats while it rings
        assert (again.status, again.to.tag) == (180, ringing.to.tag)
        assert len(stack.dialogs) == 1  # the early dialog
        phone.send(raw_request("CANCEL", phone.port, cseq=1).replace(b"-CANCEL-", b"-INVITE-"))
        answers: dict[str, SipResponse] = {}
        while len(answers) < 2:
            response = await phone.response()
            if response.status >= 200:  # a repeated 180 may still cross the CANCEL
                answers.setdefault(response.cseq[1], response)
        assert answers["CANCEL"].status == 200 and answers["INVITE"].status == 487
        assert answers["CANCEL"].to.tag == answers["INVITE"].to.tag == ringing.to.tag
        await asyncio.wait_for(handler.cancelled.wait(), WAIT)
        assert handler.legs[0].cancelled
        assert len(stack.dialogs) == 0


async def test_rejection_ends_the_early_dialog() -> None:
    handler = Callee(answer=False)
    async with running(handler) as stack, phone_for(stack) as phone:
        phone.send(raw_request("INVITE", phone.port, cseq=1))
        await until_status(phone, 180)
        handler.legs[0].reject(486)
        assert (await until_status(phone, 486))[486].cseq == (1, "INVITE")
        assert len(stack.dialogs) == 0
        with pytest.raises(ValueError):
            handler.legs[0].reject(200)


async def test_bye_rides_the_phones_tcp_connection(callee: tuple[Callee, SipStack]) -> None:
    handler, stack = callee
    phone = await TcpClient.connect(stack.port)
    try:
        local_port = phone.writer.get_extra_info("sockname")[1]
        invite = raw_request(
            "INVITE", local_port, cseq=1, transport="TCP", contact_port=CLOSED_PORT
        )
        await phone.send(invite)
        answer = await phone.response()
        while answer.status != 200:
            answer = await phone.response()
        tag = answer.to.tag
        await phone.send(raw_request("ACK", local_port, to_tag=tag, cseq=1, transport="TCP"))
        leg = handler.legs[0]
        assert await asyncio.wait_for(leg.acknowledged(), WAIT) is not None
        assert leg.dialog is not None
        bye_sent = asyncio.ensure_future(leg.dialog.request("BYE"))
        bye = await phone.item()
        assert isinstance(bye, SipRequest) and bye.method == "BYE"
        await phone.send(make_response(bye, 200).to_bytes())
        assert (await asyncio.wait_for(bye_sent, WAIT)).status == 200
    finally:
        await phone.close()


async def test_required_extension_420_exhausted_hops_483_no_contact_400(
    stack: SipStack, udp: UdpClient, handler: RecordingHandler
) -> None:
    udp.send(raw_request("INVITE", udp.port, extra="Require: 100rel, foo\r\n"))
    response = await udp.response()
    if response.status == 100:
        response = await udp.response()
    assert response.status == 420 and response.headers.get_all("Unsupported") == ["100rel", "foo"]
    looping = raw_request("INVITE", udp.port, cseq=3).replace(
        b"Max-Forwards: 70", b"Max-Forwards: 0"
    )
    udp.send(looping)
    response = await udp.response()
    if response.status == 100:
        response = await udp.response()
    assert response.status == 483
    no_contact = raw_request("INVITE", udp.port, cseq=4, contact_port=7).replace(
        f"Contact: <sip:phone@{HOST}:7>\r\n".encode(), b""
    )
    udp.send(no_contact)
    response = await udp.response()
    if response.status == 100:
        response = await udp.response()
    assert (response.status, response.reason) == (400, "Bad Contact")
    assert handler.requests == []  # none reached the application


async def test_invite_nobody_answers_ends_with_408() -> None:
    handler = RecordingHandler()  # rings (180) and never answers
    timers = TimerConfig(t1=0.05, t2=0.4, t4=0.5, invite_answer_limit=0.3)
    async with running(handler, timers) as stack, phone_for(stack) as phone:
        phone.send(raw_request("INVITE", phone.port, cseq=1))
        seen = await until_status(phone, 408)
        assert seen[408].to.tag == seen[180].to.tag
        assert handler.transactions[0].failure is not None


async def test_the_same_invite_by_another_path_gets_482() -> None:
    handler = Callee(answer=False)
    async with running(handler) as stack, phone_for(stack) as phone:
        first = raw_request("INVITE", phone.port, cseq=1, call_id="forked@x")
        phone.send(first)
        await until_status(phone, 180)
        # A forking proxy delivered it twice: same Call-ID, From tag and CSeq, new branch.
        phone.send(first.replace(b"branch=z9hG4bK-", b"branch=z9hG4bK-other-path-"))
        assert (await until_status(phone, 482))[482].cseq == (1, "INVITE")
        assert len(handler.legs) == 1
        # A new INVITE (another CSeq) is no merge.
        phone.send(raw_request("INVITE", phone.port, cseq=2, call_id="forked@x"))
        await until_status(phone, 180)
        assert len(handler.legs) == 2


async def test_a_peer_flooding_one_dialog_is_told_to_retry(
    callee: tuple[Callee, SipStack],
) -> None:
    handler, stack = callee
    async with phone_for(stack) as phone:
        phone.send(raw_request("INVITE", phone.port, cseq=1))
        tag = (await until_status(phone, 200))[200].to.tag
        phone.send(raw_request("ACK", phone.port, to_tag=tag, cseq=1))
        await asyncio.wait_for(handler.legs[0].acknowledged(), WAIT)
        handler.owner.gate = asyncio.Event()  # the owner is busy
        sent = MAX_QUEUED + 10
        for cseq in range(2, 2 + sent):
            phone.send(raw_request("INFO", phone.port, to_tag=tag, cseq=cseq))
        answers: dict[int, SipResponse] = {}

        async def collect(count: int) -> None:
            while len(answers) < count:
                response = await phone.response()
                if response.cseq[1] == "INFO":
                    answers.setdefault(response.cseq[0], response)

        await collect(sent - MAX_QUEUED - 1)  # all but those queued and the one in hand
        rejected = [r for r in answers.values() if r.status == 500]
        assert len(rejected) >= sent - MAX_QUEUED - 1
        assert all(r.headers.get("Retry-After") == "1" for r in rejected)
        handler.owner.gate.set()
        await collect(sent)
        accepted = sorted(cseq for cseq, r in answers.items() if r.status == 200)
        assert len(accepted) == sent - len(rejected)
        assert handler.owner.methods() == ["INFO"] * len(accepted)
