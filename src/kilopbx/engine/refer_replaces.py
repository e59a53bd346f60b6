"""Attended transfer from a phone: REFER whose Refer-To carries ``?Replaces=``
(RFC 3515 with RFC 3891, as RFC 5589 §7 describes).

The transferor B has two calls through the PBX: one with A (the party it transfers)
and one with C (the target it consulted). It sends the REFER in one of them; the
Replaces names its dialog in the other, with the tags as the PBX sees that dialog
(``to-tag`` ours, ``from-tag`` the phone's). As a B2BUA the PBX does not pass the
REFER on: it joins the two far parties itself.

The call the REFER came in keeps its ``callid``: C's leg (its dialog, its endpoint)
moves from the other call into this one in B's place (machine event ``Splice``), so
neither A nor C sees a re-INVITE. The other call then ends (its CDR says so), B's
leg in it gets a BYE; B's leg in this call gets a BYE after the final NOTIFY.

The REFER is answered 202 once it is understood; its NOTIFYs carry the outcome as
``message/sipfrag``: ``100 Trying``, then ``200 OK``, or the status an INVITE with
that Replaces would have had (481 no such dialog, 603 a dialog that no longer
talks). A ``Tranfer`` event names the transferred party and the transferor.
Both legs of a move must live in the same media worker (always so with one worker);
otherwise the REFER is refused with 503 and both calls go on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from kilopbx.core.errors import DomainError
from kilopbx.engine.b2bua import Hangup
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.call_model import Channel, Role
from kilopbx.engine.call_moves import Splice
from kilopbx.engine.call_splice import TalkingLeg, drop_leg, offer_leg
from kilopbx.engine.call_transfer import bridged_peer, member, notify, refer_parties, track_refer
from kilopbx.engine.invite_replaces import find_leg
from kilopbx.events.call_events import Tranfer
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.replaces import Replaces, uri_replaces
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.uri import SipUri

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

SPLICE_WAIT = 5.0
DONE = "terminated;reason=noresource"


class NoMove(Exception):
    """The other leg cannot move: ``status`` is what the final NOTIFY reports."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def attended_refer(
    runtime: CallRuntime,
    channel_id: str,
    dialog: SipDialog,
    transaction: ServerTransactionHandle,
    uri: SipUri,
) -> None:
    """The REFER (in ``channel_id``'s dialog) of an attended transfer."""
    try:
        replaces = uri_replaces(uri.headers)
    except HeaderValueError:
        replaces = None
    if replaces is None or not uri.user:
        transaction.respond(400, "Bad Refer-To")
        return
    try:
        transferor, kept = refer_parties(runtime, channel_id)
    except DomainError:
        transaction.respond(403)
        return
    found = find_leg(runtime.engine, replaces)
    if found is not None and not _same_worker(runtime, kept, found[0], found[1]):
        transaction.respond(503)  # the two legs' media cannot be bridged
        return
    transaction.respond(202)
    track_refer(_progress(runtime, dialog, kept, transferor, replaces))


async def _progress(
    runtime: CallRuntime, dialog: SipDialog, kept: Channel, transferor: Channel, replaces: Replaces
) -> None:
    await notify(dialog, "SIP/2.0 100 Trying", "active;expires=60")
    try:
        target = await _move(runtime, kept, replaces)
    except NoMove as exc:
        log.info("call %s: attended REFER refused: %s", runtime.call.id, exc.reason)
        await notify(dialog, f"SIP/2.0 {exc.status} {_REASONS[exc.status]}", DONE)
        return
    runtime.engine.bus.publish(Tranfer(runtime.call.id, (member(kept), member(transferor))))
    log.info("call %s: %s transferred %s to %s", runtime.call.id, transferor.number,
             kept.number, target)  # fmt: skip
    await notify(dialog, "SIP/2.0 200 OK", DONE)
    runtime.bye(dialog)


_REASONS = {481: "Call/Transaction Does Not Exist", 603: "Decline", 503: "Service Unavailable"}


async def _move(runtime: CallRuntime, kept: Channel, replaces: Replaces) -> str:
    """Move the far party of the dialog ``replaces`` names into ``runtime``'s call
    beside ``kept``; end the other call. Returns the moved party's number."""
    found = find_leg(runtime.engine, replaces)
    if found is None:
        raise NoMove(481, "no such dialog")
    other, replaced_id, replaced_dialog = found
    channels = {c.id: c for c in other.call.channels()}
    replaced = channels.get(replaced_id)
    if other is runtime or replaced is None or other.machine.ended or replaced_dialog.ended:
        raise NoMove(603, "the dialog named is not another live call")
    try:
        moving = channels[bridged_peer(other, replaced)]
    except DomainError as exc:
        raise NoMove(603, "the dialog named does not talk") from exc
    if not _same_worker(runtime, kept, other, replaced_id):
        raise NoMove(503, "the legs live in different media workers")
    await other.media_apps.on_hold(replaced_id, False)  # music the transferor started
    # from here to the feeds nothing waits: both calls' tasks still run, so the leg is
    # either spliced or released with a call
    if runtime.machine.ended or other.machine.ended or not kept.live or not moving.live:
        raise NoMove(603, "a call ended during the transfer")
    leg = _take_leg(other, moving)
    if leg is None:
        raise NoMove(603, "the far party has no media")
    other.feed(Hangup("transferred"))  # the transferor's leg there gets a BYE
    leg.dialog.owner = LegOwner(runtime, leg.channel.id)
    offer_leg(runtime, leg)
    runtime.feed(Splice(kept.id, leg.channel.id, bye_released=False))
    try:
        await asyncio.wait_for(leg.joined.wait(), SPLICE_WAIT)
    except TimeoutError as late:  # this call ended meanwhile
        await drop_leg(runtime, leg)
        raise NoMove(603, "the call ended during the transfer") from late
    return moving.number


def _take_leg(other: CallRuntime, moving: Channel) -> TalkingLeg | None:
    """Detach ``moving``'s leg from ``other``: its endpoint and dialog are no longer
    that call's to delete or to BYE."""
    caller = moving.id == other.caller_id
    anchor = other.a if caller else other.b
    dialog = other.dialog_a if caller else other.dialogs.get(moving.id)
    media = other.offer if caller else other.remote.get(moving.id)
    if anchor is None or dialog is None or dialog.ended or media is None:
        return None
    if caller:
        other.a, other.dialog_a = None, None
    else:
        other.b = None
        del other.dialogs[moving.id]
    other.engine.forget_endpoint(anchor.endpoint.id)
    channel = Channel(moving.id, Role.CALLEE, moving.number, trunk=moving.trunk)
    return TalkingLeg(channel, anchor, dialog, media)


def _same_worker(runtime: CallRuntime, kept: Channel, other: CallRuntime, replaced: str) -> bool:
    ours, theirs = runtime.anchor_of(kept.id), other.anchor_of(replaced)
    if ours is None or theirs is None:
        return True  # found out (and refused) later
    return ours.endpoint.worker == theirs.endpoint.worker
