"""One branch of a call: the INVITE to one registered contact of the callee, and what
its responses mean to the call (ringing, early media, answer, failure). A 422 (our
session interval is under the phone's minimum) sends the INVITE once more with the
phone's ``Min-SE`` (RFC 4028 §7.4)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from kilopbx.engine.b2bua import BranchAnswered, BranchFailed, BranchRinging
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.call_model import Channel
from kilopbx.engine.routing import Contact
from kilopbx.engine.sdp_negotiation import SdpRejected, read_media
from kilopbx.engine.session_timer import granted, offer_headers, raised_after_422
from kilopbx.sip.invite_client import (
    ClientInvite,
    InviteAnswered,
    InviteFailed,
    InviteProgress,
    build_invite,
)
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)


async def ring_branch(runtime: CallRuntime, channel: Channel, contact: Contact) -> None:
    """Send one branch's INVITE and feed what becomes of it to the call."""
    assert runtime.b is not None
    sip = runtime.engine.sip
    destination = Destination(contact.transport, contact.host, contact.port)
    anchor = replace(runtime.b, address=runtime.engine.media_address(contact.host))
    runtime.addresses[channel.id] = anchor.address
    request = build_invite(
        contact.uri,
        from_address=runtime.engine.caller_address(runtime.caller_account),
        to_address=f"<sip:{channel.number}@{runtime.engine.domain}>",
        contact=sip.contact(destination),
        body=anchor.sdp(),
        headers=[
            ("Max-Forwards", str(runtime.leg_a.hops)),
            *([("Referred-By", runtime.referred_by)] if runtime.referred_by else []),
            *(offer_headers(expires) if (expires := runtime.engine.session_expires) else []),
        ],
    )
    for _attempt in range(2):  # the second: once more after a 422 (RFC 4028 §7.4)
        try:
            invite = await sip.invite(request, destination, LegOwner(runtime, channel.id))
        except Exception:
            log.exception("call %s: INVITE to %s failed", runtime.call.id, contact.uri)
            runtime.feed(BranchFailed(channel.id, 503))
            return
        runtime.invites[channel.id] = invite
        if channel.id in runtime.cancelled_branches:
            invite.cancel()
        failure = await _follow(runtime, channel, invite)
        if failure is None:
            return
        again = raised_after_422(request, failure.response)
        if again is None or runtime.machine.ended or channel.id in runtime.cancelled_branches:
            runtime.feed(BranchFailed(channel.id, failure.response.status))
            return
        log.info("call %s: %s wants a longer session interval", runtime.call.id, contact.uri)
        request = again


async def _follow(
    runtime: CallRuntime, channel: Channel, invite: ClientInvite
) -> InviteFailed | None:
    """Feed the responses to one INVITE to the call; its failure, if it failed."""
    async for event in invite:
        match event:
            case InviteProgress(response, early_dialog):
                if response.status == 100:
                    continue
                if early_dialog is not None:  # an INVITE with Replaces may name it
                    runtime.early_dialogs[channel.id] = early_dialog
                early = read_remote(runtime, channel.id, response.body)
                runtime.feed(BranchRinging(channel.id, response.status, early))
            case InviteAnswered(response, dialog):
                runtime.dialogs[channel.id] = dialog
                if (session := granted(response)) is not None:
                    runtime.callee_sessions[channel.id] = session
                if runtime.machine.ended:
                    runtime.bye(dialog)
                    continue
                if read_remote(runtime, channel.id, response.body) or channel.id in runtime.remote:
                    runtime.feed(BranchAnswered(channel.id))
                else:  # an answer we cannot use: 488 to the caller, BYE to it
                    runtime.bye(dialog)
                    runtime.feed(BranchFailed(channel.id, 488))
            case InviteFailed():
                return event
    return None


def read_remote(runtime: CallRuntime, channel: str, body: bytes) -> bool:
    """Keep a branch's SDP; False when there is none we can use."""
    if not body:
        return False
    try:
        runtime.remote[channel] = read_media(body)
    except SdpRejected as exc:
        log.info("call %s: unusable SDP from %s: %s", runtime.call.id, channel, exc)
        return False
    return True
