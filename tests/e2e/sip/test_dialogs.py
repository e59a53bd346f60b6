"""Dialogs over real loopback sockets: a ClientInvite from one SipStack to another,
in-dialog requests both ways, their order, 481 and 500 for requests in no or stale dialogs."""

from __future__ import annotations

import asyncio

from kilopbx.sip.invite_client import (
    ClientInvite,
    InviteAnswered,
    InviteProgress,
    build_invite,
)
from kilopbx.sip.message import SipRequest
from kilopbx.sip.stack import SipStack
from kilopbx.sip.transport import Destination
from tests.e2e.sip.dialog_helpers import Callee, RecordingOwner, events_of, raw_request
from tests.e2e.sip.helpers import HOST, WAIT, UdpClient, until


def invite_to(port: int, caller: SipStack) -> SipRequest:
    return build_invite(
        f"sip:callee@{HOST}:{port}",
        from_address="<sip:caller@example.com>",
        to_address="<sip:callee@example.com>",
        contact=f"<sip:caller@{HOST}:{caller.port}>",
        body=b"v=0\r\n",
    )


async def answered_call(
    stack: SipStack, peer: SipStack, owner: RecordingOwner
) -> tuple[ClientInvite, InviteAnswered]:
    call = ClientInvite(
        stack, invite_to(peer.port, stack), Destination("udp", HOST, peer.port), owner
    )
    call.start()
    events = await events_of(call)
    final = events[-1]
    assert isinstance(final, InviteAnswered), events
    return call, final


async def test_call_rings_answers_is_acked_and_hung_up_by_the_callee(
    stack: SipStack, callee: tuple[Callee, SipStack]
) -> None:
    handler, peer = callee
    owner = RecordingOwner()
    call = ClientInvite(
        stack, invite_to(peer.port, stack), Destination("udp", HOST, peer.port), owner
    )
    call.start()
    events = await events_of(call)
    assert [type(e).__name__ for e in events] == [
        "InviteProgress",
        "InviteProgress",
        "InviteAnswered",
    ]
    trying, ringing, answered = events
    assert isinstance(trying, InviteProgress) and trying.dialog is None
    assert isinstance(ringing, InviteProgress) and ringing.dialog is not None
    assert isinstance(answered, InviteAnswered) and answered.dialog is ringing.dialog
    assert answered.response.body == b"v=0\r\n"
    await asyncio.wait_for(handler.owner.acked.wait(), WAIT)
    assert handler.owner.acks[0].cseq == (call.request.cseq[0], "ACK")
    # The callee hangs up: our owner hears the BYE, both dialogs end.
    their_dialog = handler.dialogs[0]
    bye = await asyncio.wait_for(their_dialog.request("BYE"), WAIT)
    assert bye.status == 200
    assert owner.methods() == ["BYE"]
    assert answered.dialog.ended and their_dialog.ended
    assert len(stack.dialogs) == 0 and len(peer.dialogs) == 0


async def test_in_dialog_requests_both_ways_and_481_after_the_end(
    stack: SipStack, callee: tuple[Callee, SipStack]
) -> None:
    handler, peer = callee
    owner = RecordingOwner()
    _, answered = await answered_call(stack, peer, owner)
    dialog = answered.dialog
    for method in ("INFO", "UPDATE", "NOTIFY"):
        response = await asyncio.wait_for(dialog.request(method), WAIT)
        assert response.status == 200
    handler.owner.statuses["REFER"] = 202
    assert (await asyncio.wait_for(dialog.request("REFER"), WAIT)).status == 202
    # A re-INVITE: its 2xx is ACKed for us.
    handler.owner.acked.clear()
    reinvite = await asyncio.wait_for(dialog.request("INVITE", body=b"v=0\r\n"), WAIT)
    assert reinvite.status == 200
    await asyncio.wait_for(handler.owner.acked.wait(), WAIT)
    assert handler.owner.methods() == ["INFO", "UPDATE", "NOTIFY", "REFER", "INVITE"]
    assert (await asyncio.wait_for(dialog.request("BYE"), WAIT)).status == 200
    # The callee's side is gone: a request claiming the dialog gets 481.
    their_dialog = handler.dialogs[0]
    assert their_dialog.ended
    dialog.dialog.state = type(dialog.dialog.state).CONFIRMED  # pretend we missed the end
    stale = await asyncio.wait_for(dialog.request("INFO"), WAIT)
    assert stale.status == 481
    assert dialog.ended  # §12.2.1.2: a 481 ends the dialog


async def test_requests_of_one_dialog_reach_the_owner_in_order(
    stack: SipStack, callee: tuple[Callee, SipStack]
) -> None:
    handler, peer = callee
    owner = RecordingOwner()
    await answered_call(stack, peer, owner)
    owner.gate = asyncio.Event()
    their_dialog = handler.dialogs[0]
    info = asyncio.ensure_future(their_dialog.request("INFO"))
    await owner.wait_for(1)
    bye = asyncio.ensure_future(their_dialog.request("BYE"))
    # The BYE is in (its server transaction exists) but waits behind the INFO.
    await until(lambda: stack.table.server_count >= 2)
    assert owner.methods() == ["INFO"]
    owner.gate.set()
    assert (await asyncio.wait_for(info, WAIT)).status == 200
    assert (await asyncio.wait_for(bye, WAIT)).status == 200
    assert owner.methods() == ["INFO", "BYE"]


async def test_stray_in_dialog_requests_get_481(stack: SipStack, udp: UdpClient) -> None:
    for method in ("BYE", "INFO", "INVITE", "PRACK", "UPDATE", "REFER", "NOTIFY", "OPTIONS"):
        udp.send(raw_request(method, udp.port, to_tag="nobody", call_id="stray@x"))
        response = await udp.response()
        if response.status == 100:  # an INVITE's 100 Trying comes first
            response = await udp.response()
        assert (response.status, response.cseq[1]) == (481, method)
    assert stack.table.server_count <= 8


async def test_phone_calling_a_stack_old_cseq_500_bye_then_481(
    callee: tuple[Callee, SipStack],
) -> None:
    handler, peer = callee
    loop = asyncio.get_running_loop()
    transport, phone = await loop.create_datagram_endpoint(UdpClient, remote_addr=(HOST, peer.port))
    try:
        phone.send(raw_request("INVITE", phone.port, cseq=1, call_id="c1@x"))
        seen = {}
        while 200 not in seen:
            response = await phone.response()
            seen[response.status] = response
        tag = seen[200].to.tag
        assert tag and seen[180].to.tag == tag
        phone.send(raw_request("ACK", phone.port, to_tag=tag, cseq=1, call_id="c1@x"))
        await asyncio.wait_for(handler.owner.acked.wait(), WAIT)

        async def answer(method: str, cseq: int) -> int:
            phone.send(raw_request(method, phone.port, to_tag=tag, cseq=cseq, call_id="c1@x"))
            response = await phone.response()
            assert response.cseq == (cseq, method)
            return response.status

        assert await answer("INFO", 5) == 200
        assert await answer("INFO", 3) == 500  # lower than one already seen
        assert await answer("BYE", 6) == 200
        assert await answer("INFO", 7) == 481
        assert handler.owner.methods() == ["INFO", "BYE"]
        assert len(peer.dialogs) == 0
    finally:
        transport.close()


async def test_record_route_is_copied_into_dialog_creating_responses(
    callee: tuple[Callee, SipStack],
) -> None:
    _, peer = callee
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        UdpClient, remote_addr=(HOST, peer.port)
    )
    try:
        routes = (
            "Record-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n"
        )
        invite = (
            f"INVITE sip:callee@{HOST} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{client.port};branch=z9hG4bK-rr;rport\r\n"
            f"{routes}Max-Forwards: 70\r\nFrom: <sip:a@x>;tag=a\r\nTo: <sip:b@x>\r\n"
            f"Call-ID: rr@x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@{HOST}:{client.port}>\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        client.send(invite.encode())
        seen = {}
        while 200 not in seen:
            response = await client.response()
            seen[response.status] = response
        assert seen[100].headers.get_lines("Record-Route") == []
        for status in (180, 200):
            assert seen[status].headers.get_lines("Record-Route") == [
                "<sip:p1.example.com;lr>",
                "<sip:p2.example.com;lr>",
            ]
    finally:
        transport.close()
