"""Calls that cross a trunk: an extension's call to a number that is not ours
(outbound routes), and a provider's call to one of our DIDs (inbound routes).

Outbound: ``CALL_ROUTING.outbound`` picks the route; no route for the number is 404
("404 NOT found"), a route that does not permit the caller is 403 ("NO Outbound
Restriction"); otherwise the call is an ordinary ``CallRuntime`` whose callee side
is ``trunk_branch`` (the trunks in failover order).

Inbound: a request placed by ``TRUNK_LINES.identify`` (a peer trunk's address and
port, a register trunk's provider) is not challenged; an account trunk's is, like a
phone's, and its credentials (the trunk's username and password) say which trunk it
is. Its DID (the Request-URI user, or the To user when the Request-URI carries the
trunk's account name or no number, or when only the To user is a DID the trunk
declares)
and caller number pick the inbound route, business hours included. An extension
destination (or an extension range) rings like an internal call. Any other kind is
offered to the features contributing to ``INBOUND_DESTINATIONS``; while none takes
it, the provider gets 480 with a ``Reason`` saying so, and ``CallFailed`` is sent.
A request from elsewhere whose From names a trunk's provider is refused with 403 and
counts toward the sender's ban.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Point
from kilopbx.engine.b2bua import Action
from kilopbx.engine.call_incoming import incoming
from kilopbx.engine.call_observer import CallRecord, Forwarding, Member
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.inbound_window import Routed
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected, read_media
from kilopbx.engine.session_timer import MIN_SE, SessionTimer, TooSmall, requested
from kilopbx.engine.sip_auth import PROXY_AUTH
from kilopbx.engine.trunk_branch import channels_in_use
from kilopbx.engine.trunking import TrunkProfile
from kilopbx.sip.digest import DigestError, parse_authorization
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.uri import SipUri

if TYPE_CHECKING:
    from kilopbx.engine.call_model import Channel
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
NOT_PERMITTED = "not_permitted"  # a CallRecord cause: CallFailed "NO Outbound Restriction"
NO_ROUTE = "calls.no_outbound_route"
NOT_ALLOWED = "calls.outbound_not_permitted"
FORWARD_REASONS = {"busy": "busy", "dnd": "busy", "forward_always": "always"}
UNAVAILABLE_KIND = 480
HANGUP_STATUS = 603  # a "hangup" route declines the call


@dataclass(frozen=True)
class InboundCall:
    """A provider's call that an inbound route sends to ``dest_type``/``dest``."""

    engine: CallEngine
    transaction: ServerTransactionHandle
    trunk: TrunkProfile
    did: str
    caller: str
    caller_name: str
    route: str
    dest_type: str
    dest: str
    offer: LegMedia
    timer: SessionTimer | None
    # the ids an inbound control window gave the call (None: the destination makes them)
    call_id: str | None = None
    channel_id: str | None = None


class InboundDestination(Protocol):
    """A feature that answers inbound calls of one destination kind (ivr, queue...)."""

    kind: str

    def take(self, call: InboundCall) -> bool:
        """True when it took the call (it then answers or rejects it)."""
        ...


INBOUND_DESTINATIONS: Point[InboundDestination] = Point("inbound destinations")


def user_of(request: SipRequest, header: str) -> tuple[str, str]:
    """(user, display name) of From or To; ("", "") when unreadable."""
    with contextlib.suppress(HeaderValueError, ValueError):
        address = request.from_ if header == "From" else request.to
        uri = address.uri
        if isinstance(uri, SipUri):
            return uri.user or "", (address.display_name or "")
    return "", ""


def request_user(request: SipRequest) -> str:
    with contextlib.suppress(HeaderValueError, ValueError):
        uri = request.request_uri
        if isinstance(uri, SipUri):
            return uri.user or ""
    return ""


def did_of(request: SipRequest, trunk: TrunkProfile) -> str:
    """The number called. A trunk that declares its DIDs (``didsetting``) names the
    header: the Request-URI's user when it is one of them, else the To header's when
    that is. Otherwise the Request-URI's user, unless it is the trunk's account name
    or no number at all (providers of register trunks call the Contact we
    registered), then the To header's."""
    user = request_user(request)
    to_user, _ = user_of(request, "To")
    for candidate in (user, to_user) if trunk.dids else ():
        if any(candidate == number for _, number in trunk.dids):
            return candidate
    if user and user != trunk.username and NUMBER.fullmatch(user):
        return user
    return to_user if NUMBER.fullmatch(to_user) else user[:32]


def from_host(request: SipRequest) -> str:
    with contextlib.suppress(HeaderValueError, ValueError):
        uri = request.from_.uri
        if isinstance(uri, SipUri):
            return uri.host
    return ""


def outside_party(number: str, name: str) -> SipAccount:
    """An outside caller as the runtime's caller: a number, no credentials."""
    clean = number if NUMBER.fullmatch(number) else "anonymous"
    shown = name.replace('"', "").replace("\\", "")[:63]
    return SipAccount(number=clean, auth_name="", password="", display_name=shown)


def from_trunk(engine: CallEngine, transaction: ServerTransactionHandle) -> bool:
    """Take a new INVITE that comes from a trunk (True: handled here, answered or
    being routed), or refuse one that claims a trunk from elsewhere."""
    lines = engine.trunk_lines()
    if lines is None:
        return False
    source = transaction.source
    request = transaction.request
    account = _trunk_account(engine, request)
    if account is not None:  # an account trunk's INVITE with credentials
        outcome = engine.auth.check(request, account.number, source.host, PROXY_AUTH)
        if outcome.challenge:
            engine.auth.challenge(transaction, stale=outcome.stale, headers=PROXY_AUTH)
            return True
        trunk = lines.profile(account.trunk)
        if outcome.failed or trunk is None:
            engine.auth.strike(source.host)
            transaction.respond(403)
            return True
        return _accept(engine, transaction, trunk)
    trunk = lines.identify(source.host, source.port)
    if trunk is None or trunk.kind == "account":  # account trunks authenticate
        host = from_host(request)
        # our own name: a phone of ours (where a trunk's host is this machine too)
        claimed = lines.claimed(host) if host and host != engine.domain else None
        if claimed is None or claimed.kind == "account":
            return False
        if request.headers.get("Proxy-Authorization") is not None:
            return False  # credentials: an extension's digest check decides
        log.info("INVITE claiming trunk %s from %s refused", claimed.name, source.host)
        engine.auth.strike(source.host)
        transaction.respond(403)
        return True
    return _accept(engine, transaction, trunk)


def _trunk_account(engine: CallEngine, request: SipRequest) -> SipAccount | None:
    """The account trunk whose digest name the request's credentials carry."""
    value = request.headers.get(PROXY_AUTH.credentials)
    if value is None:
        return None
    try:
        name = parse_authorization(value).username
    except DigestError:
        return None
    account = engine.directory.by_auth_name(name)
    return account if account is not None and account.trunk else None


def _accept(engine: CallEngine, transaction: ServerTransactionHandle, trunk: TrunkProfile) -> bool:
    """A trunk's INVITE: its SDP and session timer checked, then routed inbound."""
    request = transaction.request
    source = transaction.source
    try:
        offer = read_media(request.body)
    except SdpRejected as exc:
        log.info("INVITE from trunk %s: %s", trunk.name, exc)
        transaction.respond(488)
        return True
    try:
        timer = requested(request)
    except TooSmall:
        transaction.respond(422, headers=[("Min-SE", str(MIN_SE))])
        return True
    full = trunk.max_channels and channels_in_use(engine, trunk.name) >= trunk.max_channels
    if engine.at_capacity() or full:
        transaction.respond(503, headers=[("Retry-After", "5")])
        return True
    engine.trust_trunk(source)
    engine.spawn(inbound_call(engine, transaction, trunk, offer, timer))
    return True


async def outbound_call(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    caller: SipAccount,
    dialled: str,
    offer: LegMedia,
    timer: SessionTimer | None,
) -> None:
    """An extension dialled a number that is not ours."""
    routing = engine.call_routing()
    choice = (
        None if routing is None else await routing.outbound(caller.number, frozenset(), dialled)
    )
    if choice is None:
        transaction.respond(404)
        engine.refuse(caller, dialled, 404)
        return
    if not choice.allowed:
        log.info(
            "call from %s to %s: not permitted by route %s",
            caller.number,
            dialled[:32],
            choice.route,
        )
        transaction.respond(403, "Outbound Call Not Permitted")
        engine.refuse(caller, dialled, 403, cause=NOT_PERMITTED, call_type="Outbound")
        return
    if choice.pin:  # answered, asked for the PIN, then out on the same leg
        from kilopbx.engine.route_pin import ask_pin  # it builds on the application call

        await ask_pin(engine, transaction, caller, dialled, offer, choice, timer)
        return
    runtime = incoming(engine, transaction, caller, dialled, offer, timer)
    runtime.outside = choice
    await runtime.run()


async def inbound_call(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    trunk: TrunkProfile,
    offer: LegMedia,
    timer: SessionTimer | None,
) -> None:
    """A provider's call, from an address ``TRUNK_LINES`` placed on ``trunk``."""
    request = transaction.request
    did = did_of(request, trunk)
    number, name = user_of(request, "From")
    caller = outside_party(number, name)
    routed = None
    if trunk.inbound_control and engine.inbound_windows.heard():  # engine/inbound_window.py
        routed = await engine.inbound_windows.hold(transaction, trunk, caller, did)
        if routed is None:
            return
    if routed is not None and routed.number:  # the application named the extension
        await _ring_extension(engine, transaction, trunk, caller, did, routed.number,
                              offer, timer, routed)  # fmt: skip
        return
    routing = engine.call_routing()
    destination = None
    if routing is not None:
        destination = await routing.inbound(trunk.name, did, caller.number, engine.now())
    if destination is None:
        log.info("inbound call on %s to %s: no route", trunk.name, did[:32])
        _reject(engine, transaction, trunk, caller, did, 404, ids=routed)
        return
    if destination.dest_type == "extension" and engine.directory.by_number(destination.dest):
        await _ring_extension(engine, transaction, trunk, caller, did, destination.dest,
                              offer, timer, routed)  # fmt: skip
        return
    if destination.dest_type == "hangup":  # the route's purpose: turn the call away
        _reject(engine, transaction, trunk, caller, did, HANGUP_STATUS, ids=routed)
        return
    call = InboundCall(
        engine, transaction, trunk, did, caller.number, caller.display_name,
        destination.route, destination.dest_type, destination.dest, offer, timer,
        routed.call_id if routed else None, routed.channel_id if routed else None,
    )  # fmt: skip
    for handler in engine.inbound_destinations():
        if handler.kind == destination.dest_type and handler.take(call):
            return
    unavailable(call)


async def _ring_extension(
    engine: CallEngine, transaction: ServerTransactionHandle, trunk: TrunkProfile,
    caller: SipAccount, did: str, extension: str, offer: LegMedia,
    timer: SessionTimer | None, routed: Routed | None,
) -> None:  # fmt: skip
    """Ring ``extension`` like an internal call; a call out of the control window keeps
    the call id and channel its ``Invite`` named."""
    channel = routed.channel_id if routed else engine.new_channel_id(f"trunk-{trunk.name}-endpoint")
    call_id = routed.call_id if routed else None
    runtime = incoming(engine, transaction, caller, extension, offer, timer,
                       caller_channel=channel, call_id=call_id)  # fmt: skip
    runtime.call.caller.trunk = trunk.name
    runtime.did = did
    await runtime.run()


def unavailable(call: InboundCall) -> None:
    """Turn away an inbound call whose destination nothing takes: 480 with a Reason,
    ``CallFailed`` and the CDR."""
    kind = call.dest_type
    log.info("inbound call on %s to %s: %s %s not available", call.trunk.name, call.did, kind,
             call.dest[:32])  # fmt: skip
    reason = f'SIP;cause={UNAVAILABLE_KIND};text="{kind} destinations are not available"'
    caller = outside_party(call.caller, call.caller_name)
    _reject(call.engine, call.transaction, call.trunk, caller, call.did, UNAVAILABLE_KIND,
            [("Reason", reason)])  # fmt: skip


def _reject(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    trunk: TrunkProfile,
    caller: SipAccount,
    did: str,
    status: int,
    headers: list[tuple[str, str]] | None = None,
    *,
    ids: Routed | None = None,
) -> None:
    """``ids``: the call id and channel an inbound control window gave the call."""
    transaction.respond(status, headers=headers or [])
    channel = ids.channel_id if ids else engine.new_channel_id(f"trunk-{trunk.name}-endpoint")
    now = engine.now()
    record = CallRecord(
        call_id=ids.call_id if ids else engine.new_call_id(),
        caller=caller.number,
        caller_name=caller.display_name,
        dialled=did[:32],
        callee="",
        state="ended",
        started_at=now,
        ended_at=now,
        disposition="FAILED",
        cause="rejected",
        sip_status=status,
        members=(Member(caller.number, channel, "caller", "ended", trunk.name),),
        call_type="Inbound",
        source_trunk=trunk.name,
        did=did[:32],
    )
    engine.tell_ended(record)


async def route_outside(engine: CallEngine, caller: str, number: str) -> OutboundChoice:
    """How ``caller``'s call to ``number`` leaves (``call/dial``); DomainError when no
    route matches the number or none permits the caller."""
    routing = engine.call_routing()
    choice = None if routing is None else await routing.outbound(caller, frozenset(), number)
    if choice is None:
        raise DomainError(NO_ROUTE, f"no outbound route for {number[:32]}")
    if not choice.allowed:
        raise DomainError(NOT_ALLOWED, f"{caller} may not call {number[:32]}")
    return choice


def outside_number(engine: CallEngine, number: str) -> bool:
    """Whether a member of a call may dial ``number`` outside (attended or blind
    transfer, a member added): no extension of ours, a phone number's characters,
    and no feature code (``*...``), which is internal whatever it names."""
    return (
        engine.directory.by_number(number) is None
        and NUMBER.fullmatch(number) is not None
        and not number.startswith("*")
    )


async def route_dialled(engine: CallEngine, caller: str, number: str) -> OutboundChoice:
    """``route_outside`` for a number an extension's call dials out (``call/dial``,
    an attended transfer, a member added): a number that matches no route and is
    as long as ``caller``'s own is one of ours that is not (``NO_SUCH_CALLEE``)."""
    from kilopbx.engine.calls import NO_SUCH_CALLEE

    try:
        return await route_outside(engine, caller, number)
    except DomainError as exc:
        if exc.reason == NO_ROUTE and len(number) == len(caller):
            raise DomainError(NO_SUCH_CALLEE, f"no extension {number[:32]}") from None
        raise


async def route_for_member(
    engine: CallEngine, member: Channel, number: str, permission: str | None = None
) -> tuple[SipAccount, OutboundChoice]:
    """(whose permissions and caller ID apply, the route) for a member of a call
    dialling ``number`` outside: extension ``permission`` (the API's
    ``dialpermission``; none such: ``NO_SUCH_CALLER``), else the member itself, which
    must be an extension (``NOT_ALLOWED``)."""
    from kilopbx.engine.calls import NO_SUCH_CALLER

    if permission:
        account = engine.directory.by_number(permission)
        if account is None:
            raise DomainError(NO_SUCH_CALLER, f"dialpermission {permission[:32]} is no extension")
    else:
        account = None if member.trunk else engine.directory.by_number(member.number)
        if account is None:
            raise DomainError(NOT_ALLOWED, "only an extension may dial outside")
    return account, await route_dialled(engine, account.number, number)


async def forward_outside(
    engine: CallEngine, runtime: CallRuntime, target: SipAccount, number: str, reason: str
) -> list[Action] | None:
    """Follow ``target``'s forwarding to ``number`` through the outbound routes, with
    ``target``'s permissions and DOD; None when no route takes it."""
    routing = engine.call_routing()
    choice = None if routing is None else await routing.outbound(target.number, frozenset(), number)
    if choice is None or not choice.allowed or runtime.machine.ended:
        log.info(
            "call %s: forwarding %s to %s: no route", runtime.call.id, target.number, number[:32]
        )
        return None
    kind = FORWARD_REASONS.get(reason, "no_answer")
    engine.forwarded(runtime, Forwarding(target.number, number, kind))
    runtime.outside = choice
    return runtime.route(number)
