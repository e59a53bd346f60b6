"""INVITE with Replaces toward the PBX (RFC 3891): a phone takes over one leg of a
live call, as after an attended transfer its transferor arranged, or to pick a call
up from another phone of the same user.

The Replaces names the replaced dialog as we know it (its Call-ID, our tag as
``to-tag``, the phone's as ``from-tag``). The new phone must authenticate like any
caller. Then (§3):

- several Replaces, or a malformed one: 400;
- no dialog of ours matches: 481; the caller's own early dialog (its INVITE not
  answered yet) is not replaced either: 481;
- the dialog matches but has ended, or its leg no longer talks: 603;
- ``early-only`` on an answered dialog: 486.

The early dialog of a branch we ring (an INVITE of ours) may be replaced: the
phone answers the call instead of the ringing phones, which get a CANCEL, as a
directed pickup does. An answered dialog is replaced by a splice (machine event
``Splice``): the replaced phone gets a BYE, the replaced leg's endpoint is pointed
at the new phone, which gets our 200 from it, and the party on the other side keeps
talking without a re-INVITE. The call keeps its ``callid`` and its one CDR.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kilopbx.core.errors import DomainError
from kilopbx.engine.call_park import join_as_answer
from kilopbx.engine.call_transfer import bridged_peer
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.sdp_negotiation import SdpRejected, read_media
from kilopbx.sip.dialog import DialogState
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.replaces import Replaces, request_replaces
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)


def has_replaces(transaction: ServerTransactionHandle) -> bool:
    return bool(transaction.request.headers.get_all("Replaces"))


def find_leg(engine: CallEngine, replaces: Replaces) -> tuple[CallRuntime, str, SipDialog] | None:
    """The live call, channel and dialog that ``replaces`` names, if any."""
    wanted = replaces.dialog_id()
    for runtime in engine.calls.values():
        legs: list[tuple[str, SipDialog | None]] = [(runtime.caller_id, runtime.dialog_a)]
        legs += list(runtime.dialogs.items())
        legs += list(runtime.early_dialogs.items())
        for channel_id, dialog in legs:
            if dialog is not None and dialog.id == wanted:
                return runtime, channel_id, dialog
    return None


async def replace_leg(
    engine: CallEngine, transaction: ServerTransactionHandle, account: SipAccount
) -> None:
    """An authenticated phone's INVITE with Replaces."""
    request = transaction.request
    try:
        replaces = request_replaces(request.headers.get_all("Replaces"))
    except HeaderValueError:
        transaction.respond(400, "Bad Replaces")
        return
    if replaces is None:
        transaction.respond(400, "Bad Replaces")
        return
    try:
        offer = read_media(request.body)
    except SdpRejected:
        transaction.respond(488)
        return
    found = find_leg(engine, replaces)
    if found is None:
        transaction.respond(481)
        return
    runtime, channel_id, dialog = found
    channels = {c.id: c for c in runtime.call.channels()}
    channel = channels.get(channel_id)
    if dialog.state is DialogState.EARLY and not dialog.ended:
        if channel_id in runtime.early_dialogs and _still_ringing(runtime, channel_id):
            # a branch we ring (§3: an early dialog we initiated): the phone answers
            # the call in its place, as a pickup; the ringing phones get a CANCEL
            log.info("call %s: %s takes over ringing %s", runtime.call.id, account.number,
                     channel_id)  # fmt: skip
            join_as_answer(engine, runtime, transaction, account, offer)
            return
        transaction.respond(481)  # the caller's own early dialog is not taken over
        return
    if runtime.machine.ended or dialog.ended or channel is None or not channel.live:
        transaction.respond(603)
        return
    if replaces.early_only:
        transaction.respond(486)
        return
    try:
        kept = bridged_peer(runtime, channel)
    except DomainError:  # not talking (a consultation, parked...): not now
        transaction.respond(603)
        return
    log.info("call %s: %s replaces %s", runtime.call.id, account.number, channel.number)
    join_as_answer(engine, runtime, transaction, account, offer, keeping=kept)


def _still_ringing(runtime: CallRuntime, channel_id: str) -> bool:
    if runtime.machine.ended or runtime.machine.answered or runtime.b is None:
        return False
    return any(c.id == channel_id for c in runtime.call.pending_branches())
