"""The call engine: takes every new INVITE, authenticates it, routes it and keeps the
live calls (``CallRuntime``), their line statuses and what observers hear of them.

Per INVITE: one digest check (the registrar's, ``SIP_AUTH``, challenged with 407),
one directory lookup for the number dialled, its SDP offer, the callee's registered
contacts, then a call that anchors its media in a worker and rings every contact. The
answers a caller can get before any ringing: 407 (authenticate), 403 (wrong
credentials), 404 (no such number), 488 (SDP we cannot use), 480 (not registered),
503 (no media).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kilopbx.clock import Clock
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.applications import CallApplication
from kilopbx.engine.call_model import line_status
from kilopbx.engine.call_observer import CallObserver, CallRecord, Forwarding
from kilopbx.engine.call_records import record_of, refused_record
from kilopbx.engine.delayed_offer import without_offer
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.feature_codes import PhoneSettings
from kilopbx.engine.inbound_window import InboundWindows
from kilopbx.engine.routing import CallRouting, OutboundChoice, Registrations
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected, read_media
from kilopbx.engine.session_timer import MIN_SE, SessionTimer, TooSmall, requested
from kilopbx.engine.sip_auth import PROXY_AUTH, DigestAuthenticator
from kilopbx.engine.sip_service import SipService
from kilopbx.engine.sounds import CallRecordings, SoundLibrary
from kilopbx.engine.trunking import TrunkLines
from kilopbx.events.bus import EventBus
from kilopbx.events.types import ExtensionStatus
from kilopbx.media import control
from kilopbx.media.pool import EndpointRef, MediaPool, WorkerLost
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source
from kilopbx.sip.uri import SipUri

if TYPE_CHECKING:
    from kilopbx.engine.b2bua import Action
    from kilopbx.engine.call_dial import Dialler
    from kilopbx.engine.call_park import ParkingLot
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.trunk_calls import InboundDestination

log = logging.getLogger(__name__)

NO_SUCH_CALL = "calls.no_such_call"
NO_SUCH_CALLER = "calls.no_such_caller"
CALLER_NOT_IDLE = "calls.caller_not_idle"
NO_SUCH_CALLEE = "calls.no_such_callee"
NO_SUCH_CHANNEL = "calls.no_such_channel"
DEFAULT_MAX_FORWARDS = 70
MAX_CALLS = 2000  # a thousand users; more is a flood, refused with 503
MEDIA_WAIT = 10.0  # a call arriving while the workers (re)start waits this long for them


class CallEngine:
    def __init__(
        self,
        *,
        sip: SipService,
        auth: DigestAuthenticator,
        directory: AccountDirectory,
        registrations: Registrations,
        media: MediaPool,
        clock: Clock,
        bus: EventBus,
        observers: Callable[[], Sequence[CallObserver]] = list,
        ring_timeout: float | None = 60.0,
        rtp_timeout: float = 60.0,
        max_duration: float | None = None,
        call_waiting: bool = True,
        phone_settings: Callable[[], PhoneSettings | None] = lambda: None,
    ) -> None:
        self.sip = sip
        self.auth = auth
        self.directory = directory
        self.registrations = registrations
        self.media = media
        self.clock = clock
        self.bus = bus
        self.observers = observers
        self.ring_timeout = ring_timeout
        self.rtp_timeout = rtp_timeout
        self.max_duration = max_duration
        self.call_waiting = call_waiting
        self.phone_settings = phone_settings  # feature codes (*72 ...), when provided
        self.parking: ParkingLot | None = None  # parked calls (set by the feature)
        self.calls: dict[str, CallRuntime] = {}
        self.dialling: dict[str, Dialler] = {}  # call/dial while the caller's phone rings
        # prompts and hold music, and which calls are recorded: features, maybe absent
        self.sounds: Callable[[], SoundLibrary | None] = lambda: None
        self.recordings: Callable[[], CallRecordings | None] = lambda: None
        self._by_endpoint: dict[str, CallRuntime] = {}
        self._lines: dict[str, set[CallRuntime]] = {}
        self._line_status: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # endpoints an application call listens to (keys, prompt ends)
        self.media_listeners: dict[str, Callable[[control.Notification], None]] = {}
        # what a call to a number no extension has can be handed to (IVRs...)
        self.applications: Callable[[], Sequence[CallApplication]] = list
        # done once the media workers are up (set by the feature that starts them)
        self.media_ready: asyncio.Future[None] | None = None
        self._calls_made = 0
        self._channels_made = 0
        # calls through trunks (kilopbx.engine.trunk_calls): set by the feature
        self.call_routing: Callable[[], CallRouting | None] = lambda: None
        self.trunk_lines: Callable[[], TrunkLines | None] = lambda: None
        self.inbound_destinations: Callable[[], Sequence[InboundDestination]] = list
        self.trunk_timeout = 5.0  # seconds a trunk may stay silent before the next one
        self.inbound_windows = InboundWindows(self)  # trunk calls waiting for a decision
        self.session_expires = 0  # the session timer offered to callees (0: none)

    def now(self) -> float:
        return self.clock.now()

    def new_call_id(self) -> str:
        """ "<unix seconds>.<sequence>", the API's call id; never reused while we run."""
        self._calls_made += 1
        return f"{int(self.now())}.{self._calls_made}"

    def new_channel_id(self, number: str) -> str:
        """The API's channel id of an extension's leg: PJSIP/<number>-<8 hex digits>."""
        self._channels_made += 1
        return f"PJSIP/{number}-{self._channels_made & 0xFFFFFFFF:08x}"

    # -- new INVITEs -------------------------------------------------------------------------

    def on_invite(self, transaction: ServerTransactionHandle) -> None:
        from kilopbx.engine.call_incoming import incoming  # the runtime needs us
        from kilopbx.engine.invite_replaces import has_replaces, replace_leg
        from kilopbx.engine.phone_codes import phone_code  # so do the codes
        from kilopbx.engine.trunk_calls import from_trunk

        if from_trunk(self, transaction):
            return
        request = transaction.request
        client = transaction.source.host
        caller_user = _user(request, "From")
        if caller_user is None:
            transaction.respond(403, "Caller Unknown")
            return
        outcome = self.auth.check(request, caller_user, client, PROXY_AUTH)
        if outcome.challenge:
            self.auth.challenge(transaction, stale=outcome.stale, headers=PROXY_AUTH)
            return
        if outcome.failed or outcome.account is None:
            self.auth.strike(client)
            transaction.respond(403)
            return
        self.sip.trust_connection(transaction.source)  # as the registrar does
        if has_replaces(transaction):  # RFC 3891: it takes over a leg of a live call
            self._spawn(replace_leg(self, transaction, outcome.account))
            return
        dialled = _dialled(request)
        served = phone_code(self, transaction, outcome.account, dialled) if dialled else None
        if served is not None:  # a feature code (*72, *71<slot>, **<ext>...), not a call
            self._spawn(served)
            return
        internal = dialled is not None and self.directory.by_number(dialled) is not None
        if dialled is None or (
            not internal and self.call_routing() is None and not self.applications()
        ):
            transaction.respond(404)
            self.refuse(outcome.account, dialled or "", 404)
            return
        try:
            offer = None if without_offer(request) else read_media(request.body)
        except SdpRejected as exc:
            log.info("INVITE from %s: %s", outcome.account.number, exc)
            transaction.respond(488)
            self.refuse(outcome.account, dialled, 488)
            return
        try:
            timer = requested(request)
        except TooSmall:
            transaction.respond(422, headers=[("Min-SE", str(MIN_SE))])
            return
        if len(self.calls) >= MAX_CALLS:
            transaction.respond(503, headers=[("Retry-After", "5")])
            return
        if not internal:  # an application's number, else through the outbound routes
            self._spawn(self._not_an_extension(transaction, outcome.account, dialled, offer, timer))
            return
        self._spawn(incoming(self, transaction, outcome.account, dialled, offer, timer).run())

    async def _not_an_extension(
        self,
        transaction: ServerTransactionHandle,
        caller: SipAccount,
        dialled: str,
        offer: LegMedia | None,
        timer: SessionTimer | None,
    ) -> None:
        """A number no extension has: the application that owns it (IVR...) answers;
        any other number goes out through the outbound routes."""
        from kilopbx.engine.app_call import run_application  # they build on the runtime
        from kilopbx.engine.trunk_calls import outbound_call

        if offer is None:  # delayed offer: only calls to extensions take it for now
            transaction.respond(488)
            self.refuse(caller, dialled, 488)
            return
        taken = self.applications() and await run_application(
            self, transaction, caller, dialled, offer, timer=timer
        )
        if taken:
            return
        if self.call_routing() is not None:
            await outbound_call(self, transaction, caller, dialled, offer, timer)
            return
        transaction.respond(404)
        self.refuse(caller, dialled, 404)

    def dial(
        self,
        caller: str,
        callee: str,
        *,
        auto_answer: bool = False,
        outside: OutboundChoice | None = None,
    ) -> str:
        """Click-to-call (``engine/call_dial.py``); returns the call id at once."""
        from kilopbx.engine.call_dial import dial

        return dial(self, caller, callee, auto_answer=auto_answer, outside=outside)

    async def originate(self, caller: str, callee: str, *, auto_answer: bool = False) -> str:
        """``dial``, where ``callee`` may also be a number outside the PBX."""
        from kilopbx.engine.call_dial import originate

        return await originate(self, caller, callee, auto_answer=auto_answer)

    def play_prompts(self, number: str, sources: Sequence[str], **options: Any) -> str:
        """``call/playprompt``: ring ``number`` and play ``sources`` to it
        (``engine/prompt_call.py``); returns the call id at once."""
        from kilopbx.engine.prompt_call import prompt_call

        call = prompt_call(self, number, sources, **options)
        self._spawn(call.run())
        return call.call_id

    async def first_endpoint(
        self, codecs: list[tuple[int, str]], remote: tuple[str, int] | None = None
    ) -> EndpointRef:
        """A call's first media endpoint, waiting (up to MEDIA_WAIT) for the workers to
        start, or for a crashed one to be replaced, rather than failing the call."""
        deadline = self.clock.monotonic() + MEDIA_WAIT
        if self.media_ready is not None:
            await asyncio.wait_for(asyncio.shield(self.media_ready), MEDIA_WAIT)
        while True:
            try:
                return await self.media.create_endpoint(codecs, remote)
            except WorkerLost:
                if self.clock.monotonic() >= deadline:
                    raise
                await asyncio.sleep(0.1)

    # -- what a call needs -------------------------------------------------------------------

    @property
    def domain(self) -> str:
        host = self.sip.host
        return "kilopbx.invalid" if host in ("", "0.0.0.0", "::") else host

    def media_address(self, peer: str) -> str:
        """The IPv4 address a phone at ``peer`` reaches our media workers at."""
        bind = self.media.bind
        if bind not in ("", "0.0.0.0"):
            return bind
        with contextlib.suppress(OSError, ValueError):
            ipaddress.IPv4Address(peer)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((peer, 9))  # no packet is sent: this only picks a route
                return str(probe.getsockname()[0])
        return self.domain if self.domain != "kilopbx.invalid" else "127.0.0.1"

    def caller_address(self, account: SipAccount) -> str:
        name = account.display_name.replace('"', "").replace("\\", "")[:64]
        shown = f'"{name}" ' if name else ""
        return f"{shown}<sip:{account.number}@{self.domain}>"

    def hops_left(self, request: SipRequest) -> int:
        with contextlib.suppress(HeaderValueError, ValueError):
            hops = request.max_forwards
            if hops is not None:
                return max(0, min(hops, DEFAULT_MAX_FORWARDS) - 1)
        return DEFAULT_MAX_FORWARDS - 1

    async def unreached(self, runtime: CallRuntime, reason: str, status: int) -> list[Action]:
        """Nobody answered (or could ring): follow the target's busy or no-answer
        forwarding to another extension or, through the outbound routes, a number
        (the always-forwarding to a number comes here too), else give the caller
        ``status``."""
        from kilopbx.engine.trunk_calls import forward_outside

        target = runtime.target
        if target is not None and runtime.outside is None:  # a trunk call is not forwarded
            settings = target.calls
            forward = settings.forward_busy if reason in ("busy", "dnd") else None
            if reason in ("no_answer", "unavailable"):
                forward = settings.forward_no_answer
            if reason == "forward_always":
                forward = settings.forward_always
            if forward is not None and forward.kind == "number":
                actions = await forward_outside(self, runtime, target, forward.target, reason)
                if actions is not None:
                    return actions
            forwarded = runtime.forward_target(forward)
            if forwarded is not None:
                reason = "busy" if reason in ("busy", "dnd") else "no_answer"
                self.forwarded(runtime, Forwarding(target.number, forwarded, reason))
                return runtime.route(forwarded)
            if forward is not None and forward.kind == "voicemail":
                from kilopbx.engine.app_handoff import hand_to_application

                box = forward.target or target.number
                handed = await hand_to_application(self, runtime, "voicemail", box, reason, status)
                if handed is not None:
                    return handed
        status = runtime.outside_status or status  # every provider's 503: congestion
        return runtime.machine.give_up(status, reason, self.now())

    def max_duration_of(self, caller: SipAccount, callee: SipAccount) -> float | None:
        """The shorter of both extensions' limits (None: the PBX-wide one; 0: none)."""
        limits = []
        for account in (caller, callee):
            seconds = account.calls.max_call_seconds
            limit = self.max_duration if seconds is None else (seconds or None)
            if limit:
                limits.append(float(limit))
        return min(limits) if limits else None

    # -- the life of calls -------------------------------------------------------------------

    def track(self, runtime: CallRuntime, *, ringing: bool = False) -> None:
        """Count ``runtime`` among the live calls (again after each new target);
        ``ringing``: a new target rings, which observers hear of."""
        self.calls[runtime.call.id] = runtime
        for endpoint in runtime.endpoints():
            self._by_endpoint[endpoint.id] = runtime
        for number in _numbers(runtime):
            self._lines.setdefault(number, set()).add(runtime)
        self.changed(runtime)
        if ringing:
            self._notify("call_ringing", runtime)

    def changed(self, runtime: CallRuntime) -> None:
        for number in _numbers(runtime):
            self._update_line(number)

    def answered(self, runtime: CallRuntime) -> None:
        self.changed(runtime)
        self._notify("call_answered", runtime)

    def hold_changed(self, runtime: CallRuntime) -> None:
        self.changed(runtime)
        self._notify("call_changed", runtime)

    def forwarded(self, runtime: CallRuntime, forward: Forwarding) -> None:
        record = record_of(runtime)
        for observer in self.observers():
            try:
                observer.call_forwarded(record, forward)
            except Exception:
                log.exception("call observer failed on call_forwarded")

    def ended(self, runtime: CallRuntime) -> None:
        self._notify("call_ended", runtime)

    def forget(self, runtime: CallRuntime) -> None:
        if self.calls.pop(runtime.call.id, None) is None:
            return
        for endpoint in runtime.endpoints():
            self._by_endpoint.pop(endpoint.id, None)
        for number in _numbers(runtime):
            calls = self._lines.get(number)
            if calls is not None:
                calls.discard(runtime)
                if not calls:
                    del self._lines[number]
            self._update_line(number)

    def live(self) -> list[CallRecord]:
        """The calls in progress (one that ended may take a moment to clean up), with
        those of call/dial whose caller's phone still rings."""
        live = [record_of(r) for r in self.calls.values() if not r.machine.ended]
        return live + [d.record() for i, d in self.dialling.items() if i not in self.calls]

    def query(self, call_id: str) -> CallRecord:
        runtime, dialler = self.calls.get(call_id), self.dialling.get(call_id)
        if runtime is None and dialler is not None:
            return dialler.record()
        if runtime is None or runtime.machine.ended:
            raise DomainError(NO_SUCH_CALL, f"no live call {call_id[:40]}")
        return record_of(runtime)

    def calls_of(self, number: str) -> list[CallRecord]:
        dials = [d.record() for i, d in self.dialling.items() if i not in self.calls]
        ours = [record_of(r) for r in self._lines.get(number, ()) if not r.machine.ended]
        return ours + [d for d in dials if d.caller == number]

    def hang_up(self, call_id: str, cause: str = "api") -> None:
        """End a whole call, whatever state it is in (a KiloPBX API extension)."""
        self.query(call_id)
        if call_id in self.calls:
            self.calls[call_id].feed_hangup(cause)
        else:
            self.dialling[call_id].hang_up(cause)

    def hang_up_channel(self, channel_id: str, cause: str = "api") -> str:
        """End the call ``channel_id`` is a leg of (with two parties, one leaving ends
        it); returns the call id."""
        for runtime in self.calls.values():
            if runtime.members.holds(channel_id):  # one member leaves a conference
                runtime.members.hang_up(channel_id)
                return runtime.call.id
            if runtime.members.drop_party(channel_id):  # the conference goes on
                return runtime.call.id
            if any(c.id == channel_id and c.live for c in runtime.call.channels()):
                runtime.feed_hangup(cause)
                return runtime.call.id
        raise DomainError(NO_SUCH_CHANNEL, f"no live channel {channel_id[:60]}")

    # -- line status (LINE_STATUS and ExtensionStatus) ---------------------------------------

    def line_status(self, number: str) -> str:
        return self._line_status.get(number, "Unavailable")

    def _update_line(self, number: str) -> None:
        calls = (runtime.call for runtime in self._lines.get(number, ()))
        dials = (d for i, d in self.dialling.items() if i not in self.calls)  # call/dial
        ringing = "Ringing" if any(d.caller.number == number for d in dials) else "Unavailable"
        status = line_status(calls, number) or ringing
        old = self._line_status.get(number, "Unavailable")
        if status == "Unavailable":
            self._line_status.pop(number, None)
        else:
            self._line_status[number] = status
        if status != old:
            shown = status if status != "Unavailable" else "Registered"
            ip = self.registrations.registered_ip(number)
            if shown != "Registered" or ip is not None:
                self.bus.publish(ExtensionStatus(extension=number, status=shown, registered_ip=ip))

    # -- media workers -----------------------------------------------------------------------

    def on_media_notification(self, worker: int, note: control.Notification) -> None:
        listener = self.media_listeners.get(note.endpoint)
        if listener is not None:  # an application call (IVR, voicemail) listens
            listener(note)
            return
        if note.event == "dtmf":  # in-call keys: *1 records the call on demand
            keyed = self._by_endpoint.get(note.endpoint or "")
            if keyed is not None:
                keyed.media_apps.on_key(note.endpoint, str(note.data.get("digit", "")))
            self._media_digit(note)  # and the other phone gets the key
            return
        if note.event != "rtp_timeout":
            return
        runtime = self._by_endpoint.get(note.endpoint or "")
        if runtime is not None and not runtime.members.timed_out(note.endpoint or ""):
            log.info("call %s: no RTP, hanging up", runtime.call.id)
            runtime.feed_hangup("rtp_timeout")

    def _media_digit(self, note: control.Notification) -> None:
        digit, source = str(note.data.get("digit", "")), str(note.data.get("source", "rfc4733"))
        duration = note.data.get("duration_ms")
        ms = duration if isinstance(duration, int) else 100
        runtime = self._by_endpoint.get(note.endpoint)
        if runtime is not None:
            runtime.media_digit(note.endpoint, digit, ms, source)

    def _end_applications(self, endpoints: set[str], why: str) -> None:
        """Hang up the application calls (IVRs) on these endpoints."""
        for endpoint in endpoints:
            # told as an RTP timeout with its reason: what ends an application call
            note = control.Notification(event="rtp_timeout", endpoint=endpoint, data={"why": why})
            listener = self.media_listeners.get(endpoint)
            if listener is not None:
                listener(note)

    def on_media_lost(self, worker: int, endpoints: set[str]) -> None:
        self._end_applications(endpoints & self.media_listeners.keys(), "worker_lost")
        lost = {self._by_endpoint[e] for e in endpoints if e in self._by_endpoint}
        for runtime in lost:
            runtime.feed_hangup("worker_lost", 503)

    # -- lifecycle ---------------------------------------------------------------------------

    def at_capacity(self) -> bool:
        return len(self.calls) >= MAX_CALLS

    def trust_trunk(self, source: Source) -> None:
        self.sip.trust_connection(source)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a call's task; stop() waits for it."""
        self._spawn(coroutine)

    def forget_endpoint(self, endpoint: str) -> None:
        self._by_endpoint.pop(endpoint, None)
        self.media_listeners.pop(endpoint, None)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, timeout: float = 2.0) -> None:
        for runtime in list(self.calls.values()):
            runtime.feed_hangup("shutdown", 503)
        for dialler in [d for i, d in self.dialling.items() if i not in self.calls]:
            dialler.hang_up("shutdown")  # still ringing the caller's phone
        self._end_applications(set(self.media_listeners), "shutdown")
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in self._tasks:
            task.cancel()

    def refuse(
        self, caller: SipAccount, dialled: str, status: int, *, cause: str = "", call_type: str = ""
    ) -> None:
        """The record of ``caller``'s call refused at the door (``cause`` overrides
        "rejected"; ``call_type`` "Outbound" for a route refusing it)."""
        channel = self.new_channel_id(caller.number)
        record = refused_record(self.new_call_id(), channel, caller, dialled, status, self.now())
        if cause or call_type:
            record = replace(record, cause=cause or record.cause, call_type=call_type or "Internal")
        self.tell_ended(record)

    def tell_ringing(self, record: CallRecord) -> None:
        self._update_line(record.caller)  # call/dial rings the caller's phone
        self._tell("call_ringing", record)

    def tell_ended(self, record: CallRecord) -> None:
        self._update_line(record.caller)
        self._tell("call_ended", record)

    def _notify(self, what: str, runtime: CallRuntime) -> None:
        self._tell(what, record_of(runtime))

    def _tell(self, what: str, record: CallRecord) -> None:
        for observer in self.observers():
            try:
                getattr(observer, what)(record)
            except Exception:
                log.exception("call observer failed on %s", what)


def _numbers(runtime: CallRuntime) -> set[str]:
    """Every extension the call has involved (the caller, each one rung); an outside
    party's number on a trunk leg is no line of ours."""
    call = runtime.call
    channels = (call.caller, *call.branches.values(), *call.extras.values())
    return {channel.number for channel in channels if not channel.trunk}


def _user(request: SipRequest, header: str) -> str | None:
    with contextlib.suppress(HeaderValueError, ValueError):
        uri = request.from_.uri if header == "From" else request.to.uri
        if isinstance(uri, SipUri) and uri.user:
            return uri.user
    return None


def _dialled(request: SipRequest) -> str | None:
    with contextlib.suppress(HeaderValueError, ValueError):
        uri = request.request_uri
        if isinstance(uri, SipUri) and uri.user:
            return uri.user
    return None


CALLS: Key[CallEngine] = Key("call engine")
