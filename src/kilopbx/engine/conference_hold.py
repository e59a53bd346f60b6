"""``call/hold`` and ``call/unhold`` of one party of a conference (a call that
``call/add_member`` made three-way or more).

In a two-party call the channel named asks for the hold and its peer is held
(``CallControl.hold``). A conference has no single peer, so there the channel named
is the party held: its phone gets a re-INVITE ``sendonly`` (``sendrecv`` to resume,
RFC 3264 §8.4), it leaves the mix and hears the hold music on its own endpoint, and
shows ``HOLD``; the others go on hearing each other (``CallMembers.remix`` leaves
the held parties out). Holding a held party changes nothing; unholding a party that
is not held is "no such channel" (10007), a monitor or a ringing member "not
connected" (10015), as for a two-party call.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from kilopbx.core.errors import DomainError
from kilopbx.engine.anchor import Anchor, remote_fields
from kilopbx.engine.b2bua import HoldChanged
from kilopbx.engine.call_model import Channel, ChannelState
from kilopbx.engine.call_transfer import NOT_CONNECTED
from kilopbx.engine.calls import NO_SUCH_CHANNEL
from kilopbx.engine.sdp_negotiation import SdpRejected, read_media
from kilopbx.engine.sounds import HOLD_FALLBACK
from kilopbx.media.pool import MediaError, MediaPool
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.message import SipResponse

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

RENEGOTIATING = "calls.renegotiating"  # the same reason as call_control.RENEGOTIATING


def in_conference(runtime: CallRuntime) -> bool:
    """Holds are the conference's: an extra member is live, or a party is held here."""
    return runtime.members.active or bool(runtime.members.held)


async def hold_party(runtime: CallRuntime, channel: Channel, *, on_hold: bool) -> None:
    members = runtime.members
    if on_hold == (channel.id in members.held):
        if on_hold:
            return  # held already
        raise DomainError(NO_SUCH_CHANNEL, f"{channel.id[:60]} is in no hold")
    if not any(party is channel for party, _ in members.parties()):
        raise DomainError(NOT_CONNECTED, "the member is not talking in the call")
    anchor, dialog = _side(runtime, channel)
    await _reinvite(runtime, anchor, dialog, on_hold=on_hold)
    pool = runtime.engine.media
    if on_hold:
        library = runtime.engine.sounds()
        source = library.hold_music() if library is not None else HOLD_FALLBACK
        members.held[channel.id] = None
        try:
            members.held[channel.id] = await pool.play(anchor.endpoint, source, loop=True)
        except MediaError as exc:
            log.info("call %s: no hold music: %s", runtime.call.id, exc)
    else:
        await members.stop_music(channel.id)
    await members.remix()
    if channel.id in members.extra:
        if channel.live:
            channel.state = ChannelState.HELD if on_hold else ChannelState.UP
        runtime.engine.hold_changed(runtime)
    else:  # one of the first two: its state is the machine's (CallStatus follows)
        runtime.feed(HoldChanged(channel.id, on_hold))


def _side(runtime: CallRuntime, channel: Channel) -> tuple[Anchor, SipDialog]:
    member = runtime.members.extra.get(channel.id)
    if member is not None:
        anchor, dialog = member.anchor, member.dialog
    elif channel.id == runtime.caller_id:
        anchor, dialog = runtime.a, runtime.dialog_a
    else:
        anchor, dialog = runtime.b, runtime.dialogs.get(channel.id)
    if anchor is None or dialog is None or dialog.ended:
        raise DomainError(NO_SUCH_CHANNEL, "the member has left the call")
    return anchor, dialog


async def _reinvite(
    runtime: CallRuntime, anchor: Anchor, dialog: SipDialog, *, on_hold: bool
) -> None:
    try:
        response = await reinvite_held(runtime.engine.media, anchor, dialog, on_hold=on_hold)
    except DialogError as exc:  # the phone is renegotiating itself, or has left
        raise DomainError(RENEGOTIATING, "the phone is changing its media now") from exc
    if not 200 <= response.status < 300:
        raise DomainError(NOT_CONNECTED, f"the phone answered {response.status}")


async def reinvite_held(
    pool: MediaPool, anchor: Anchor, dialog: SipDialog, *, on_hold: bool
) -> SipResponse:
    """Re-INVITE the phone of ``dialog`` with ``anchor``'s SDP sendonly (hold) or
    sendrecv, and follow a new address its 2xx names; a refusal (or the DialogError
    raised) leaves the anchor's direction as it was. Two-party and conference hold
    share it; each does its own clean-up around it."""
    previous = anchor.direction
    anchor.direction = "sendonly" if on_hold else "sendrecv"
    anchor.version += 1
    try:
        response = await dialog.request(
            "INVITE", headers=[("Content-Type", "application/sdp")], body=anchor.sdp()
        )
    except DialogError:
        anchor.direction = previous
        raise
    if not 200 <= response.status < 300:
        anchor.direction = previous
    elif response.body:
        with contextlib.suppress(SdpRejected):
            remote = remote_fields(read_media(response.body))
            if remote is not None:  # a new address (never a new codec here)
                with contextlib.suppress(MediaError):
                    await pool.modify_endpoint(anchor.endpoint, remote=remote)
    return response
