"""ClientInvite against a scripted peer on a raw UDP socket: forked and retransmitted
2xx, CANCEL answered and ignored, an INVITE nobody answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import pytest

from kilopbx.sip.invite_client import (
    MAX_EARLY_DIALOGS,
    ClientInvite,
    InviteAnswered,
    InviteFailed,
    InviteProgress,
    build_invite,
)
from kilopbx.sip.message import SipRequest, make_response
from kilopbx.sip.parser import parse_message
from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transport import Destination
from tests.e2e.sip.dialog_helpers import RecordingOwner, events_of, start_stack
from tests.e2e.sip.helpers import HOST, WAIT, RecordingHandler


class ScriptedPeer(asyncio.DatagramProtocol):
    """The far end of our INVITE, answering as each test scripts it."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[SipRequest] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        message = parse_message(data)
        if isinstance(message, SipRequest):
            self.requests.put_nowait(message)

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def request(self, method: str) -> SipRequest:
        """The next request of ``method``, skipping retransmissions of others."""
        while True:
            request = await asyncio.wait_for(self.requests.get(), WAIT)
            if request.method == method:
                return request

    def answer(
        self,
        request: SipRequest,
        status: int,
        stack: SipStack,
        tag: str | None = "t1",
        *,
        contact: bool = True,
    ) -> None:
        extra = [("Contact", f"<sip:phone-{tag}@{HOST}:{self.port}>")] if contact else []
        response = make_response(request, status, to_tag=tag, extra_headers=extra)
        assert self.transport is not None
        self.transport.sendto(response.to_bytes(), (HOST, stack.port))


@pytest.fixture
async def peer() -> AsyncIterator[ScriptedPeer]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(ScriptedPeer, local_addr=(HOST, 0))
    yield protocol
    transport.close()


def start_call(stack: SipStack, peer: ScriptedPeer, owner: RecordingOwner) -> ClientInvite:
    request = build_invite(
        f"sip:phone@{HOST}:{peer.port}",
        from_address="<sip:pbx@example.com>",
        to_address="<sip:phone@example.com>",
        contact=f"<sip:pbx@{HOST}:{stack.port}>",
    )
    call = ClientInvite(stack, request, Destination("udp", HOST, peer.port), owner)
    call.start()
    return call


async def test_forked_2xx_are_acked_and_the_extra_one_ended_with_bye(
    stack: SipStack, peer: ScriptedPeer
) -> None:
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    peer.answer(invite, 180, stack, tag="t1")
    peer.answer(invite, 180, stack, tag="t2")
    peer.answer(invite, 200, stack, tag="t1")
    final = await asyncio.wait_for(call.final(), WAIT)
    assert isinstance(final, InviteAnswered) and final.dialog.dialog.remote_tag == "t1"
    first_ack = await peer.request("ACK")
    assert first_ack.to.tag == "t1" and first_ack.cseq == (invite.cseq[0], "ACK")
    assert first_ack.uri == f"sip:phone-t1@{HOST}:{peer.port}"  # the 2xx's Contact
    # The early dialog of t2 ended with the answer; a late 2xx from t2 is a second
    # fork: ACKed, then ended with a BYE.
    assert list(call.early) == []
    peer.answer(invite, 200, stack, tag="t2")
    second_ack = await peer.request("ACK")
    assert second_ack.to.tag == "t2"
    bye = await peer.request("BYE")
    assert bye.to.tag == "t2"
    peer.answer(bye, 200, stack, tag="t2")
    assert [d.dialog.remote_tag for d in call.released] == ["t2"]
    # A retransmitted 2xx of the kept fork gets the same ACK again (§13.2.2.4).
    peer.answer(invite, 200, stack, tag="t1")
    again = await peer.request("ACK")
    assert again.to_bytes() == first_ack.to_bytes()
    assert not final.dialog.ended and len(stack.dialogs) == 1


async def test_cancel_after_ringing_gives_487(stack: SipStack, peer: ScriptedPeer) -> None:
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    peer.answer(invite, 180, stack)
    progress = await asyncio.wait_for(call.__anext__(), WAIT)
    assert progress.response.status == 180
    assert call.cancel()
    cancel = await peer.request("CANCEL")
    assert cancel.cseq == (invite.cseq[0], "CANCEL")
    peer.answer(cancel, 200, stack)
    peer.answer(invite, 487, stack)
    final = await asyncio.wait_for(call.final(), WAIT)
    assert isinstance(final, InviteFailed) and final.response.status == 487 and final.cancelled
    assert len(stack.dialogs) == 0  # the early dialog went with it
    assert not call.cancel()


async def test_cancel_asked_twice_sends_one_cancel(stack: SipStack, peer: ScriptedPeer) -> None:
    """A call that cancels a branch and then ends (cancelling whatever is left) must
    not send a second CANCEL before the 487: a UAS takes it for a stray one."""
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    peer.answer(invite, 180, stack)
    await asyncio.wait_for(call.__anext__(), WAIT)
    assert call.cancel()
    cancel = await peer.request("CANCEL")
    peer.answer(cancel, 200, stack)
    await asyncio.sleep(0.1)
    assert call.cancel()  # still no final response: nothing new is sent
    await asyncio.sleep(0.3)
    late = drain(peer.requests)
    assert all(r.method != "CANCEL" for r in late), late
    peer.answer(invite, 487, stack)
    final = await asyncio.wait_for(call.final(), WAIT)
    assert isinstance(final, InviteFailed) and final.response.status == 487


def drain(queue: asyncio.Queue[SipRequest]) -> list[SipRequest]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_2xx_crossing_our_cancel_is_acked_and_ended(
    stack: SipStack, peer: ScriptedPeer
) -> None:
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    peer.answer(invite, 180, stack)
    await asyncio.wait_for(call.__anext__(), WAIT)
    call.cancel()
    cancel = await peer.request("CANCEL")
    peer.answer(cancel, 200, stack)
    peer.answer(invite, 200, stack)  # the phone was picked up just before
    final = await asyncio.wait_for(call.final(), WAIT)
    assert isinstance(final, InviteFailed) and final.cancelled and final.response.status == 200
    await peer.request("ACK")
    bye = await peer.request("BYE")
    peer.answer(bye, 200, stack)
    assert call.answered is None and len(call.released) == 1


async def test_cancel_nobody_answers_ends_with_408_after_64_t1(peer: ScriptedPeer) -> None:
    t1 = 0.02
    stack = await start_stack(RecordingHandler(), TimerConfig(t1=t1, t2=0.16, t4=0.2))
    try:
        call = start_call(stack, peer, RecordingOwner())
        invite = await peer.request("INVITE")
        peer.answer(invite, 180, stack)
        await asyncio.wait_for(call.__anext__(), WAIT)
        started = asyncio.get_running_loop().time()
        call.cancel()
        cancel = await peer.request("CANCEL")
        peer.answer(cancel, 200, stack)  # ...and never a final answer to the INVITE
        final = await asyncio.wait_for(call.final(), WAIT)
        waited = asyncio.get_running_loop().time() - started
        assert isinstance(final, InviteFailed) and final.response.status == 408
        assert 64 * t1 * 0.9 <= waited < WAIT
        assert stack.table.client_count <= 1  # only the CANCEL's remnant may be left
    finally:
        await stack.stop()


async def test_unanswered_invite_without_response_fails_408(peer: ScriptedPeer) -> None:
    stack = await start_stack(RecordingHandler(), TimerConfig(t1=0.01, t2=0.04, t4=0.05))
    try:
        call = start_call(stack, peer, RecordingOwner())
        final = await asyncio.wait_for(call.final(), WAIT)
        assert isinstance(final, InviteFailed) and final.response.status == 408
        assert not final.cancelled
    finally:
        await stack.stop()


async def test_rejection_ends_early_dialogs(stack: SipStack, peer: ScriptedPeer) -> None:
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    peer.answer(invite, 183, stack, tag="e1")
    peer.answer(invite, 486, stack, tag="e1")
    events = await events_of(call)
    assert [e.response.status for e in events] == [183, 486]
    assert len(stack.dialogs) == 0
    ack = await peer.request("ACK")  # the transaction's ACK for a non-2xx
    assert ack.to.tag == "e1"
    assert isinstance(events[-1], InviteFailed) and not events[-1].cancelled


async def test_timer_c_cancels_a_call_that_rings_too_long(
    stack: SipStack, peer: ScriptedPeer
) -> None:
    request = build_invite(
        f"sip:phone@{HOST}:{peer.port}",
        from_address="<sip:pbx@example.com>",
        to_address="<sip:phone@example.com>",
        contact=f"<sip:pbx@{HOST}:{stack.port}>",
    )
    owner = RecordingOwner()
    call = ClientInvite(stack, request, Destination("udp", HOST, peer.port), owner, timer_c=0.3)
    call.start()
    invite = await peer.request("INVITE")
    peer.answer(invite, 180, stack)
    cancel = await peer.request("CANCEL")  # 0.3 s after the ringing, nobody asked for it
    peer.answer(cancel, 200, stack)
    peer.answer(invite, 487, stack)
    final = await asyncio.wait_for(call.final(), WAIT)
    assert isinstance(final, InviteFailed) and final.timed_out and not final.cancelled
    assert final.response.status == 487


async def test_a_callee_inventing_forks_cannot_fill_the_registry(
    stack: SipStack, peer: ScriptedPeer
) -> None:
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    for fork in range(MAX_EARLY_DIALOGS + 20):
        peer.answer(invite, 183, stack, tag=f"f{fork}")
    progress = [
        await asyncio.wait_for(call.__anext__(), WAIT) for _ in range(MAX_EARLY_DIALOGS + 20)
    ]
    assert sum(isinstance(e, InviteProgress) and e.dialog is not None for e in progress) == (
        MAX_EARLY_DIALOGS
    )
    assert len(stack.dialogs) == MAX_EARLY_DIALOGS
    peer.answer(invite, 603, stack, tag="f0")
    assert isinstance(await asyncio.wait_for(call.final(), WAIT), InviteFailed)
    assert len(stack.dialogs) == 0


@pytest.mark.parametrize(("tag", "contact"), [(None, True), ("t1", False)])
async def test_a_2xx_that_cannot_make_a_dialog_is_a_failure(
    stack: SipStack, peer: ScriptedPeer, tag: str | None, contact: bool
) -> None:
    call = start_call(stack, peer, RecordingOwner())
    invite = await peer.request("INVITE")
    peer.answer(invite, 183, stack, tag=tag, contact=contact)  # no early dialog either
    peer.answer(invite, 200, stack, tag=tag, contact=contact)
    events = await events_of(call)
    assert isinstance(events[0], InviteProgress) and events[0].dialog is None
    assert isinstance(events[-1], InviteFailed) and events[-1].response.status == 200
    assert call.answered is None and len(stack.dialogs) == 0
