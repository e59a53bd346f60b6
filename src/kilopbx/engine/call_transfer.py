"""Blind transfer: through the API (``call/transfer``, spec 70 §6) and by a phone's
REFER (RFC 3515), in the same call and with the same call id.

The party that stays keeps its channel, its dialog and its endpoint; its peer in the
bridge leaves. The machine (``B2bua``, event ``Transfer``) ends the leaving channel
and makes the kept one the calling side of a new leg (``ALERT`` while the target
rings); ``retarget`` below then points the runtime at it and rings the target
through the ordinary routing (forwarding, DND, no answer). When the target answers,
the kept party's endpoint is bridged to the target's; the kept phone's own SDP does
not change, so it gets no re-INVITE (the worker transcodes when the codecs differ).

A REFER from the phone on one side of a two-party call transfers the other side to
the Refer-To number: 202, a NOTIFY with ``SIP/2.0 100 Trying``, the transfer, a
final NOTIFY with ``SIP/2.0 200 OK`` (subscription terminated), then a BYE to the
transferor. The target's INVITE carries ``Referred-By``, and a ``Tranfer`` event
(the wire's spelling) names the transferred party and the transferor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from kilopbx.core.errors import DomainError
from kilopbx.engine.b2bua import Action
from kilopbx.engine.call_model import Channel
from kilopbx.engine.call_moves import Transfer
from kilopbx.engine.calls import NO_SUCH_CALLEE
from kilopbx.events.call_events import Tranfer
from kilopbx.events.call_model import CallMember
from kilopbx.media.pool import MediaError
from kilopbx.sip.address import parse_name_addr
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.uri import SipUri

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.routing import OutboundChoice

log = logging.getLogger(__name__)

NOT_CONNECTED = "calls.not_connected"  # the member is not talking (ringing, or left)
PARK_MUSIC = "parked"  # the key of a parked party's music (CallMedia.on_hold)
PARK_CODE = "*70"  # a REFER to this parks the transferor's partner
MAX_NUMBER = 32


def bridged_peer(runtime: CallRuntime, channel: Channel) -> str:
    """The channel bridged with ``channel``, or NOT_CONNECTED."""
    bridge = runtime.call.bridge
    if bridge is None or not channel.talking or channel.id not in (bridge.a, bridge.b):
        raise DomainError(NOT_CONNECTED, "the call is not connected")
    if runtime.members.active:  # a conference is no two-party bridge
        raise DomainError(NOT_CONNECTED, "the call has more than two members")
    if runtime.members.held:  # a party held in the conference: unhold it first
        raise DomainError(NOT_CONNECTED, "a party of the call is on hold")
    return bridge.b if channel.id == bridge.a else bridge.a


def check_target(runtime: CallRuntime, number: str) -> str:
    """The extension a transfer may go to (others need trunks, IVRs, queues: 10011)."""
    number = number.strip()
    if len(number) > MAX_NUMBER or runtime.engine.directory.by_number(number) is None:
        raise DomainError(NO_SUCH_CALLEE, f"no extension {number[:MAX_NUMBER]}")
    return number


def transfer(
    runtime: CallRuntime, keep: Channel, number: str, outside: OutboundChoice | None = None
) -> None:
    """``call/transfer``: ``keep`` (the party transferred) now calls ``number``, an
    extension, or a number outside through ``outside`` (the transferor's route)."""
    bridged_peer(runtime, keep)
    runtime.referred_by = None
    if outside is not None:
        runtime.outside = outside  # ``CallRuntime.route`` rings it through the trunks
        runtime.feed(Transfer(keep.id, number.strip()))
        return
    runtime.feed(Transfer(keep.id, check_target(runtime, number)))


async def retarget(runtime: CallRuntime, number: str, *, swapped: bool) -> list[Action]:
    """The runtime's half of a transfer, run in the call's task: the kept party is
    the caller from now on; its peer's endpoint waits (unbridged, no RTP timeout) for
    the target's media; then ring the target."""
    engine = runtime.engine
    if swapped:
        become_caller(runtime)
    await runtime.media_apps.on_hold(PARK_MUSIC, False)  # a parked call rings its parker
    runtime.connected = None
    runtime.bridged = False
    if runtime.a is not None and runtime.b is not None:
        with contextlib.suppress(MediaError):
            await engine.media.unbridge(runtime.a.endpoint)
            await engine.media.modify_endpoint(runtime.b.endpoint, rtp_timeout=0.0)
    engine.hold_changed(runtime)  # the transferor's BYE, before the target rings
    return runtime.route(number)


def become_caller(runtime: CallRuntime) -> None:
    """The machine made the kept callee the call's caller: swap the runtime's sides
    (endpoints, dialogs) to match."""
    engine = runtime.engine
    released = runtime.caller_id
    runtime.a, runtime.b = runtime.b, runtime.a
    runtime.caller_id = runtime.call.caller.id
    if runtime.dialog_a is not None:
        runtime.dialogs[released] = runtime.dialog_a
    runtime.dialog_a = runtime.dialogs.pop(runtime.caller_id, None)
    runtime.session_timer = None  # the kept leg's timer, if any, is its phone's
    account = engine.directory.by_number(runtime.call.caller.number)
    if account is not None:
        runtime.caller_account = account
    if runtime.a is not None and runtime.b is not None:  # offer what the kept phone speaks
        runtime.b.codecs, runtime.b.dtmf = runtime.a.codecs, runtime.a.dtmf


# -- REFER from a phone --------------------------------------------------------------------


def on_refer(
    runtime: CallRuntime,
    channel_id: str,
    dialog: SipDialog,
    transaction: ServerTransactionHandle,
) -> None:
    """A REFER in the dialog of ``channel_id`` (the transferor): answer it, then run
    the transfer and its NOTIFYs in a task of the call. A Refer-To carrying Replaces
    is an attended transfer (``kilopbx.engine.refer_replaces``)."""
    from kilopbx.engine.refer_replaces import attended_refer
    from kilopbx.engine.trunk_calls import outside_number  # it builds on us

    uri = refer_to_uri(transaction)
    if uri is not None and "replaces" in _lower(uri.headers):
        attended_refer(runtime, channel_id, dialog, transaction, uri)
        return
    number = _refer_target(transaction)
    if number is None:
        transaction.respond(400, "Bad Refer-To")
        return
    outside = outside_number(runtime.engine, number)
    try:
        transferor, kept = refer_parties(runtime, channel_id)
        if number != PARK_CODE and not outside:  # the park code parks the partner
            number = check_target(runtime, number)
    except DomainError as exc:
        transaction.respond(404 if exc.reason == NO_SUCH_CALLEE else 403)
        return
    if outside:  # through the transferor's route: answered once the routes answered
        track_refer(_refer_outside(runtime, dialog, transaction, kept, transferor, number))
        return
    transaction.respond(202)
    members = (member(kept), member(transferor))
    runtime.engine.bus.publish(Tranfer(runtime.call.id, members))
    runtime.referred_by = f"<sip:{transferor.number}@{runtime.engine.domain}>"
    if number == PARK_CODE:
        progress = _park_progress(runtime, dialog, kept, transferor.number)
    else:
        progress = _refer_progress(runtime, dialog, kept.id, number)
    track_refer(progress)


REFERS: set[asyncio.Task[None]] = set()


def track_refer(progress: Coroutine[Any, Any, None]) -> None:
    """Run a REFER's progress (its NOTIFYs) to its end, held here meanwhile."""
    task = asyncio.get_running_loop().create_task(progress)
    REFERS.add(task)
    task.add_done_callback(REFERS.discard)


def refer_parties(runtime: CallRuntime, channel_id: str) -> tuple[Channel, Channel]:
    """The transferor (the channel whose dialog the REFER came in) and the partner it
    leaves behind; DomainError(NOT_CONNECTED) when the call no longer bridges them."""
    channels = {c.id: c for c in runtime.call.channels()}
    transferor = channels.get(channel_id)
    if transferor is None or runtime.machine.ended:
        raise DomainError(NOT_CONNECTED, "the call has ended")
    return transferor, channels[bridged_peer(runtime, transferor)]


async def _refer_progress(runtime: CallRuntime, dialog: SipDialog, keep: str, number: str) -> None:
    try:
        await notify(dialog, "SIP/2.0 100 Trying", "active;expires=60")
        runtime.feed(Transfer(keep, number, bye_released=False))
        await notify(dialog, "SIP/2.0 200 OK", "terminated;reason=noresource")
    finally:
        runtime.bye(dialog)  # the transferor leaves, whatever became of the NOTIFYs


async def _refer_outside(
    runtime: CallRuntime,
    dialog: SipDialog,
    transaction: ServerTransactionHandle,
    kept: Channel,
    transferor: Channel,
    number: str,
) -> None:
    """A REFER to a number outside, answered once the transferor's outbound route is
    known (then it goes on as any REFER): 404 for no route (or an extension-length
    number that is none), 403 for a route that does not permit the transferor, or a
    transferor that is no extension."""
    from kilopbx.engine.trunk_calls import NO_ROUTE, route_for_member

    engine = runtime.engine
    try:
        _, choice = await route_for_member(engine, transferor, number)
    except DomainError as exc:
        transaction.respond(404 if exc.reason in (NO_ROUTE, NO_SUCH_CALLEE) else 403)
        return
    if runtime.machine.ended:
        transaction.respond(481)  # the call ended meanwhile
        return
    transaction.respond(202)
    engine.bus.publish(Tranfer(runtime.call.id, (member(kept), member(transferor))))
    runtime.referred_by = f"<sip:{transferor.number}@{engine.domain}>"
    runtime.outside = choice  # ``CallRuntime.route`` rings it through the trunks
    await _refer_progress(runtime, dialog, kept.id, number)


async def _park_progress(
    runtime: CallRuntime, dialog: SipDialog, kept: Channel, parker: str
) -> None:
    """REFER to the park code: park the partner on the first free slot and release
    the transferor after the final NOTIFY; no slot free: a failure NOTIFY and the
    call goes on."""
    from kilopbx.engine.call_park import ParkingLot  # it builds on us

    lot: ParkingLot | None = runtime.engine.parking
    await notify(dialog, "SIP/2.0 100 Trying", "active;expires=60")
    try:
        if lot is None:
            raise DomainError(NOT_CONNECTED, "parking is not available")
        slot = lot.park(runtime, kept, None, parker, bye_released=False)
    except DomainError:  # the call ended meanwhile, or no slot is free
        await notify(dialog, "SIP/2.0 503 Service Unavailable", "terminated;reason=noresource")
        return
    log.info("call %s: %s parked %s on %s", runtime.call.id, parker, kept.number, slot)
    await notify(dialog, "SIP/2.0 200 OK", "terminated;reason=noresource")
    runtime.bye(dialog)


async def notify(dialog: SipDialog, fragment: str, state: str) -> None:
    headers = [
        ("Event", "refer"),
        ("Subscription-State", state),
        ("Content-Type", "message/sipfrag;version=2.0"),
    ]
    with contextlib.suppress(DialogError):
        await dialog.request("NOTIFY", headers=headers, body=f"{fragment}\r\n".encode())


def refer_to_uri(transaction: ServerTransactionHandle) -> SipUri | None:
    """The one Refer-To SIP URI, or None when there is none or it is malformed."""
    values = transaction.request.headers.get_all("Refer-To")
    if len(values) != 1 or len(values[0]) > 1024:
        return None
    try:
        uri = parse_name_addr(values[0]).uri
    except (HeaderValueError, ValueError):
        return None
    return uri if isinstance(uri, SipUri) else None


def _refer_target(transaction: ServerTransactionHandle) -> str | None:
    """The user part of the one Refer-To SIP URI (a Replaces header: not blind)."""
    uri = refer_to_uri(transaction)
    if uri is None or not uri.user or "replaces" in _lower(uri.headers):
        return None
    return uri.user


def _lower(headers: dict[str, str]) -> set[str]:
    return {name.lower() for name in headers}


def member(channel: Channel) -> CallMember:
    return CallMember.extension(channel.number, channel.id)
