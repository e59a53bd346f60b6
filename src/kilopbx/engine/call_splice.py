"""The runtime's half of ``Splice`` (``kilopbx.engine.call_moves``): a leg that talks
already takes the released party's place beside the kept one, in the same call.

Two kinds of leg join this way:

- a phone whose INVITE carries Replaces (RFC 3891): it has no endpoint of its own;
  the released party's endpoint is pointed at it and its INVITE gets our 200 from
  that endpoint (``CallRuntime.answer_legs``), as a retrieved parked call does;
- a leg that has its own endpoint and dialog already (the target of an attended
  transfer's consultation): ``offer_leg`` hands them to the call; the released
  party's endpoint is deleted and the joined one bridged with the kept party's, so
  the joined phone needs no re-INVITE.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kilopbx.engine.anchor import Anchor
from kilopbx.engine.call_model import Channel, ChannelState
from kilopbx.engine.call_transfer import become_caller
from kilopbx.engine.sdp_negotiation import LegMedia
from kilopbx.media.pool import MediaError
from kilopbx.sip.dialog_user import SipDialog

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime


@dataclass(slots=True)
class TalkingLeg:
    """A leg answered elsewhere that joins a call: its channel, the endpoint it sends
    to, its dialog and its SDP; ``joined`` is set once the call has bridged it."""

    channel: Channel
    anchor: Anchor
    dialog: SipDialog
    media: LegMedia
    joined: asyncio.Event = field(default_factory=asyncio.Event)


def offer_leg(runtime: CallRuntime, leg: TalkingLeg) -> None:
    """Make ``leg`` a member of ``runtime``'s call that a ``Splice`` can name: listed
    among the branches (not yet answered in this call), its dialog and SDP known."""
    channel = leg.channel
    channel.state = ChannelState.RINGING
    runtime.call.branches[channel.id] = channel
    runtime.dialogs[channel.id] = leg.dialog
    runtime.remote[channel.id] = leg.media
    runtime.joining[channel.id] = leg


async def spliced(runtime: CallRuntime, joined: str, released: str, swapped: bool) -> None:
    """In the call's task, before the answer of ``joined`` is performed."""
    engine = runtime.engine
    await runtime.media_apps.on_hold(released, False)  # its hold's music, if any
    if swapped:
        become_caller(runtime)  # the released party's endpoint is runtime.b now
    leg = runtime.joining.pop(joined, None)
    if leg is None:  # an INVITE with Replaces: the released endpoint serves it
        runtime.connected = None
        runtime.bridged = False  # (again: a hold may have taken it out of the bridge)
        return
    anchor = leg.anchor
    old, runtime.b = runtime.b, anchor
    if old is not None:
        engine.forget_endpoint(old.endpoint.id)
        with contextlib.suppress(MediaError):
            await engine.media.delete_endpoint(old.endpoint)
    engine.track(runtime)  # the joined endpoint's notifications reach this call
    await runtime.media_apps.record_party(anchor.endpoint)  # a recording goes on with it
    runtime.connected = runtime.remote.get(joined)
    runtime.bridged = False
    if runtime.a is not None:
        with contextlib.suppress(MediaError):
            await engine.media.bridge(runtime.a.endpoint, anchor.endpoint)
            runtime.bridged = True
    leg.joined.set()


async def drop_leg(runtime: CallRuntime, leg: TalkingLeg) -> None:
    """A leg offered to a call that ended before it could splice it: BYE and delete
    it here, unless the call's own release did."""
    if runtime.joining.get(leg.channel.id) is not leg:
        return
    del runtime.joining[leg.channel.id]
    runtime.bye(leg.dialog)
    runtime.engine.forget_endpoint(leg.anchor.endpoint.id)
    with contextlib.suppress(MediaError):
        await runtime.engine.media.delete_endpoint(leg.anchor.endpoint)
