"""The call API of SipService (what the engine uses), between two services on loopback:
one owns INVITEs through server_invite, the other calls it with invite()."""

from __future__ import annotations

import asyncio

from kilopbx.engine.sip_service import SipService
from kilopbx.sip.invite_client import InviteAnswered, build_invite
from kilopbx.sip.invite_server import ServerInvite
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Destination
from tests.e2e.sip.dialog_helpers import RecordingOwner
from tests.e2e.sip.helpers import HOST, WAIT


async def test_engine_style_call_between_two_services() -> None:
    caller, callee = SipService(), SipService()
    callee_owner, caller_owner = RecordingOwner(), RecordingOwner()
    legs: list[ServerInvite] = []

    async def on_invite(transaction: ServerTransactionHandle) -> None:
        leg = callee.server_invite(transaction, callee_owner)
        legs.append(leg)
        leg.provisional(180)
        leg.answer(b"v=0\r\n")

    callee.register_method("INVITE", on_invite)
    callee.advertise(methods=("BYE", "INFO"), option_tags=("norefersub",))
    await caller.start(HOST, 0)
    await callee.start(HOST, 0)
    try:
        assert callee.allowed_methods() == "ACK, CANCEL, OPTIONS, INVITE, BYE, INFO"
        assert callee.stack.supported == frozenset({"norefersub"})
        peer = Destination("udp", HOST, callee.port)
        request = build_invite(
            f"sip:2001@{HOST}:{callee.port}",
            from_address='"Reception" <sip:100@pbx.example>',
            to_address="<sip:2001@pbx.example>",
            contact=caller.contact(peer, "100"),
            body=b"v=0\r\n",
        )
        assert caller.contact(peer, "100") == f"<sip:100@{HOST}:{caller.port}>"
        call = await caller.invite(request, peer, caller_owner)
        final = await asyncio.wait_for(call.final(), WAIT)
        assert isinstance(final, InviteAnswered)
        assert await asyncio.wait_for(legs[0].acknowledged(), WAIT) is not None
        info = await asyncio.wait_for(final.dialog.request("INFO", body=b"dtmf"), WAIT)
        assert info.status == 200 and callee_owner.methods() == ["INFO"]
        bye = await asyncio.wait_for(final.dialog.request("BYE"), WAIT)
        assert bye.status == 200 and callee_owner.methods() == ["INFO", "BYE"]
        assert len(caller.stack.dialogs) == len(callee.stack.dialogs) == 0
    finally:
        await caller.stop()
        await callee.stop()
