"""One live call: the B2BUA machine (``kilopbx.engine.b2bua``) wired to SIP and media.

SIP happenings (the caller's CANCEL, each branch's responses, BYEs) and timers become
events in one queue; a single task feeds them to the machine in order and performs
the actions it returns, so a call never races itself. The caller's leg and the
callee side each get a media endpoint in one worker; the callee endpoint is shared
by every branch and takes the codecs and address of the one that answers (or sends
early media), and the two are bridged. Whatever happens, the endpoints are deleted
and every dialog ended when the call finishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from kilopbx.engine.anchor import Anchor, remote_address, remote_fields, specs
from kilopbx.engine.b2bua import (
    Action,
    AnswerCaller,
    ArmTimer,
    B2bua,
    Bye,
    CancelBranch,
    DisarmTimer,
    Event,
    Finished,
    Hangup,
    HoldChanged,
    RejectCaller,
    RingCaller,
    SendBye,
    TimerFired,
    Unreached,
    new_branch,
    new_call,
)
from kilopbx.engine.call_branch import ring_branch
from kilopbx.engine.call_leg import CallerLeg, answer_direction, detach_owners
from kilopbx.engine.call_media import CallMedia
from kilopbx.engine.call_members import CallMembers
from kilopbx.engine.call_moves import Parked, Retarget, Spliced
from kilopbx.engine.call_observer import Forwarding
from kilopbx.engine.callee_session import (
    SessionKeeper,
    caller_session,
    keep_callee_session,
    keep_caller_session,
)
from kilopbx.engine.directory import Forward, SipAccount
from kilopbx.engine.dtmf_relay import INFO, relay_digit
from kilopbx.engine.routing import Contact, OutboundChoice
from kilopbx.engine.sdp_negotiation import (
    LegMedia,
    SdpRejected,
    answer_codec,
    offer_codecs,
)
from kilopbx.engine.session_timer import CalleeSession, SessionTimer
from kilopbx.engine.trunk_branch import ring_outside
from kilopbx.media.pool import EndpointRef, MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_client import (
    ClientInvite,
)
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.call_attended import Consultation
    from kilopbx.engine.call_splice import TalkingLeg
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

MAX_FORWARDS = 5  # extensions one call may be forwarded through


class CallRuntime:
    def __init__(
        self,
        engine: CallEngine,
        caller_leg: Callable[[CallRuntime], CallerLeg],
        caller: SipAccount,
        dialled: str,
        offer: LegMedia,
        *,
        call_id: str | None = None,
        caller_channel: str | None = None,
    ) -> None:
        """``caller_leg(self)`` makes the caller's side: the INVITE we answer
        (``incoming``), or a phone we called first (``kilopbx.engine.call_dial``);
        ``offer`` is the caller's SDP (its offer, or its answer to ours)."""
        self.engine = engine
        self.caller_account = caller
        self.offer = offer
        self.call = new_call(
            call_id or engine.new_call_id(),
            caller.number,
            dialled,
            engine.now(),
            caller_channel or engine.new_channel_id(caller.number),
        )
        self.machine = B2bua(
            self.call, ring_timeout=engine.ring_timeout, max_duration=engine.max_duration
        )
        self.caller_id = self.call.caller.id
        self.leg_a = caller_leg(self)
        self.final_status = 0
        self.session_timer: SessionTimer | None = None  # the caller's (RFC 4028)
        self.callee_sessions: dict[str, CalleeSession] = {}  # each answer's, by branch
        self.callee_keeper: SessionKeeper | None = None  # the answered callee's
        self.caller_keeper: SessionKeeper | None = None  # when the caller made us refresh
        self.target: SipAccount | None = None  # the extension ringing now
        self.visited: set[str] = set()  # extensions tried, so forwarding cannot loop
        self.outside: OutboundChoice | None = None  # how a number not ours leaves
        self.did = ""  # the number an inbound trunk call was made to
        self.call_path = ""  # the application (IVR...) the callee was reached through
        self.outside_status = 0  # how the trunks failed, when none took the call
        self.a: Anchor | None = None
        self.b: Anchor | None = None
        self.bridged = False
        self._timed = frozenset[str]()  # endpoints the last _connect gave rtp_timeout
        self.connected: LegMedia | None = None
        self.dialog_a: SipDialog | None = None
        self.dialogs: dict[str, SipDialog] = {}
        self.early_dialogs: dict[str, SipDialog] = {}  # ringing branches' (by To tag)
        self.invites: dict[str, ClientInvite] = {}
        self.remote: dict[str, LegMedia] = {}  # each branch's latest SDP
        self.addresses: dict[str, str] = {}  # our media address as each branch sees it
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self.cancelled_branches: set[str] = set()
        self.referred_by: str | None = None  # a REFER's transferor, for the target's INVITE
        # members that joined by their own INVITE (a parked call retrieved): answer(sdp)
        self.answer_legs: dict[str, Callable[[bytes], SipDialog]] = {}
        # legs answered elsewhere that a Splice brings in with their own endpoint
        self.joining: dict[str, TalkingLeg] = {}
        self.consultation: Consultation | None = None  # an attended transfer's
        self._tasks: set[asyncio.Task[None]] = set()
        self.media_apps = CallMedia(self)  # ringback, hold music, recording
        self.members = CallMembers(self)  # add_member and listen: a conference

    # -- what the engine and the legs call ---------------------------------------------------

    def feed(self, event: Event) -> None:
        self._events.put_nowait(event)

    def endpoints(self) -> list[EndpointRef]:
        anchors = [self.a, self.b, *(leg.anchor for leg in self.joining.values())]
        if self.consultation is not None:
            anchors.append(self.consultation.anchor)
        ours = [anchor.endpoint for anchor in anchors if anchor is not None]
        return ours + self.members.endpoints()

    def leg_bye(self, channel: str) -> None:
        consultation = self.consultation
        if consultation is not None and channel == consultation.channel.id:
            consultation.hung_up()
            return
        transferor = consultation is not None and channel == consultation.transferor
        if transferor and consultation is not None and consultation.hand_over():
            return  # the transferor hung up: A and C talk
        if not self.members.absorbs_bye(channel):  # else a conference goes on without it
            self.feed(Bye(channel))

    def anchor_of(self, channel: str) -> Anchor | None:
        """Our side of ``channel``'s media (a consultation's target has its own)."""
        consultation = self.consultation
        if consultation is not None and channel == consultation.channel.id:
            return consultation.anchor
        return self.a if channel == self.caller_id else self.b

    def leg_sdp(self, channel: str) -> bytes | None:
        anchor = self.anchor_of(channel)
        return None if anchor is None else anchor.sdp()

    def leg_refer(
        self, channel: str, dialog: SipDialog, transaction: ServerTransactionHandle
    ) -> None:
        from kilopbx.engine.call_transfer import on_refer  # it builds on us

        on_refer(self, channel, dialog, transaction)

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        keeper = self.callee_keeper
        if keeper is not None and channel == keeper.channel:
            return keeper.phone_refreshed()
        if self.caller_keeper is not None and channel == self.caller_keeper.channel:
            self.caller_keeper.phone_refreshed()  # it refreshed anyway: the clock restarts
        self._refresh_session(channel)
        if self.session_timer is None or channel != self.caller_id:
            return []
        return self.session_timer.answer_headers()

    def leg_digit(self, channel: str, digit: str, duration_ms: int) -> None:
        anchor = self.a if channel == self.caller_id else self.b
        if anchor is not None:  # *1 by SIP INFO too
            self.media_apps.on_key(anchor.endpoint.id, digit)
        relay_digit(self, channel == self.caller_id, digit, duration_ms, INFO)

    def media_digit(self, endpoint: str, digit: str, duration_ms: int, source: str) -> None:
        """A key the worker found on one of our endpoints (RFC 4733 or in band)."""
        if any(endpoint == extra.id for extra in self.members.endpoints()):
            return  # a key from an added member or supervisor goes to nobody
        relay_digit(self, self.a is not None and endpoint == self.a.endpoint.id, digit,
                    duration_ms, source)  # fmt: skip

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        """A re-INVITE or UPDATE from a phone: hold, resume or a new address."""
        anchor = self.anchor_of(channel)
        if anchor is None:
            raise SdpRejected("no media yet")
        held = media.on_hold
        with contextlib.suppress(MediaError):
            fields: dict[str, Any] = {"rtp_timeout": 0.0 if held else self.engine.rtp_timeout}
            if (remote := remote_fields(media)) is not None:
                fields["remote"] = remote
            await self.engine.media.modify_endpoint(anchor.endpoint, **fields)
        anchor.version += 1
        anchor.direction = answer_direction(media)
        if anchor is not self.a and anchor is not self.b:  # a consultation's target
            return anchor.sdp()
        await self.media_apps.on_hold(channel, held)
        self.feed(HoldChanged(channel, held))
        return anchor.sdp()

    # -- the call's task ---------------------------------------------------------------------

    async def run(self) -> None:
        try:
            if await self._setup():
                self.engine.track(self)
                await self._perform(self.route(self.call.callee_number))
            while not self.machine.ended:
                event = await self._events.get()
                await self._perform(self.machine.handle(event, self.engine.now()))
                if isinstance(event, HoldChanged) and not self.machine.ended:
                    self.engine.hold_changed(self)
            while not self._events.empty():  # a late answer still gets its BYE
                event = self._events.get_nowait()
                await self._perform(self.machine.handle(event, self.engine.now()))
        except Exception:
            log.exception("call %s failed", self.call.id)
            if not self.leg_a.final_sent:
                self.leg_a.reject(500)
            for dialog in [self.dialog_a, *self.dialogs.values()]:
                if dialog is not None:
                    self.bye(dialog)
            ending = self.machine.handle(Hangup("internal_error", 500), self.engine.now())
            if any(isinstance(action, Finished) for action in ending):
                self.engine.ended(self)  # the observers still get the call's end
        finally:
            await self._release()

    async def _setup(self) -> bool:
        """The two endpoints; False (the call then ends) when the media is not there."""
        media = self.engine.media
        offer = self.offer
        try:
            if self.a is None:
                a = await self.engine.first_endpoint(offer.worker_codecs(), remote_address(offer))
                address = self.engine.media_address(self.leg_a.peer_host)
                self.a = Anchor(a, address, (), None, str(secrets.randbelow(2**31)))
            codecs, dtmf = offer_codecs(offer)
            near = self.a.endpoint
            b = await media.create_endpoint([(c.payload_type, c.name) for c in codecs], near=near)
            self.b = Anchor(b, "", codecs, dtmf)
        except (MediaError, OSError, RuntimeError, TimeoutError) as exc:
            log.error("call %s: no media: %s", self.call.id, exc)
            self.feed(Hangup("media_unavailable", 503))
            return False
        self.b.session_id = str(secrets.randbelow(2**31))
        return not self.leg_a.cancelled

    def route(self, number: str) -> list[Action]:
        """Ring extension ``number`` (following its always-forwarding), or the actions
        for why it cannot ring: DND counts as busy, no registration as unavailable."""
        engine = self.engine
        for _ in range(MAX_FORWARDS):
            account = engine.directory.by_number(number)
            if account is None and self.outside is not None:
                return ring_outside(self, self.outside)  # through a trunk
            if account is None:
                return self.machine.unreachable("failed", 404)
            self.target = account
            self.visited.add(number)
            forwarded = self.forward_target(account.calls.forward_always)
            if forwarded is not None:
                engine.forwarded(self, Forwarding(number, forwarded, "always"))
                number = forwarded
                continue
            always = account.calls.forward_always
            away = always is not None and always.kind in ("number", "voicemail")
            if away and self.outside is None:  # the routes or the voicemail box decide
                return self.machine.unreachable("forward_always", 480)
            if account.calls.do_not_disturb:
                return self.machine.unreachable("dnd", 486)
            waiting = account.calls.call_waiting
            if waiting is None:
                waiting = engine.call_waiting
            if not waiting and engine.line_status(number) == "Busy":
                return self.machine.unreachable("busy", 486)  # no second call rings
            contacts = engine.registrations.contacts_for(number)
            if not contacts:
                return self.machine.unreachable("unavailable", 480)
            return self._ring(account, contacts)
        return self.machine.unreachable("failed", 482)  # a forwarding loop

    def forward_target(self, forward: Forward | None) -> str | None:
        """The extension a forwarding rule sends this call to, if we can follow it:
        forwarding to numbers needs trunks and to voicemail a voicemail service."""
        if forward is None or forward.kind != "extension" or forward.target in self.visited:
            return None
        return forward.target

    def _ring(self, account: SipAccount, contacts: Sequence[Contact]) -> list[Action]:
        number = account.number
        branches = [
            new_branch(self.call, number, i, self.engine.new_channel_id(number))
            for i in range(len(contacts))
        ]
        self.machine.max_duration = self.engine.max_duration_of(self.caller_account, account)
        actions = self.machine.retarget(branches, self.engine.now(), account.calls.ring_timeout)
        self.engine.track(self, ringing=True)
        for channel, contact in zip(branches, contacts, strict=True):
            self._spawn(ring_branch(self, channel, contact))
        return actions

    # -- actions -----------------------------------------------------------------------------

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case RingCaller(status, branch):
                    await self._ring_caller(status, branch)
                case AnswerCaller(branch):
                    await self._answer(branch)
                case RejectCaller(status):
                    self.final_status = status
                    if not self.leg_a.final_sent:
                        self.leg_a.reject(status)
                case CancelBranch(branch):
                    self.cancelled_branches.add(branch)
                    if (invite := self.invites.get(branch)) is not None:
                        invite.cancel()
                case SendBye(channel):
                    dialog = (
                        self.dialog_a if channel == self.caller_id else self.dialogs.get(channel)
                    )
                    if dialog is not None:
                        self.bye(dialog)
                case ArmTimer() | DisarmTimer():
                    self._arm(action)
                case Unreached(reason, status):
                    await self._perform(await self.engine.unreached(self, reason, status))
                case Retarget(number, swapped):
                    from kilopbx.engine.call_transfer import retarget  # it builds on us

                    await self._perform(await retarget(self, number, swapped=swapped))
                case Parked(swapped):
                    from kilopbx.engine.call_park import parked

                    await parked(self, swapped)
                case Spliced(joined, released, swapped):
                    from kilopbx.engine.call_splice import spliced

                    await spliced(self, joined, released, swapped)
                case Finished():
                    self.engine.ended(self)

    async def _ring_caller(self, status: int, branch: str | None) -> None:
        if self.leg_a.final_sent:
            return
        if branch is not None:
            body = await self._connect(branch)
        else:
            body = await self.media_apps.start_ringback()
        with contextlib.suppress(DialogError):
            self.leg_a.provisional(status, body=body)
        self.engine.changed(self)

    async def _answer(self, branch: str) -> None:
        """The callee's 200 made the call answered (``B2bua``; ``call/query`` and the
        API's member changes see it from now on): that is told at once, before any await
        to the worker, so nothing reported of the call (a member ``call/add_member``
        brings in meanwhile) can come before its answer. The recording's name, which the
        answer's CDR carries, is chosen with it; the worker starts writing once the
        caller has its 200."""
        # the caller's leg only: a transfer target's answer comes with a caller talking
        recording = None if self.dialog_a is not None else self.media_apps.recording_target()
        if recording is not None:
            self.media_apps.claim(recording)
        self.engine.answered(self)
        talking = False
        try:
            talking = await self._connect_answer(branch)
        finally:
            if recording is not None and not talking:  # the caller never got its 200
                self.media_apps.unclaim(recording)
        if talking and recording is not None:
            await self.media_apps.record(recording)

    async def _connect_answer(self, branch: str) -> bool:
        """Connect ``branch``'s media and give the caller its 200; False when there is
        no new caller to answer (a transfer target, or a caller that gave up)."""
        timed = self.dialog_a is None
        body = await self._connect(branch, self.engine.rtp_timeout if timed else None)
        assert self.b is not None
        keep_callee_session(self, branch)
        if (answer_leg := self.answer_legs.pop(branch, None)) is not None:
            try:  # a phone that joined by its own INVITE (pickup, retrieve): our 200
                self.dialogs[branch] = answer_leg(self.b.sdp())
            except DialogError:  # it gave up meanwhile
                self.feed(Bye(branch))
        if self.dialog_a is not None:  # a transfer target: the caller talks already
            with contextlib.suppress(MediaError):  # it was off while the target rang
                rtp_timeout = self.engine.rtp_timeout
                await self.engine.media.modify_endpoint(self.b.endpoint, rtp_timeout=rtp_timeout)
            if self.caller_keeper is None:  # an application answered it: its timer goes on
                self._refresh_session(self.caller_id)
                keep_caller_session(self)
            return False
        try:
            self.dialog_a = self.leg_a.answer(body)
        except DialogError:  # the caller's CANCEL crossed the answer
            self.feed(Hangup("cancel"))
            return False
        self.final_status = 200
        self._spawn(self._await_ack())
        self._refresh_session(self.caller_id)
        keep_caller_session(self)
        with contextlib.suppress(MediaError):
            timeout = self.engine.rtp_timeout
            pool = self.engine.media
            timed_now = self._timed  # set along with the connection's own modifies
            await asyncio.gather(
                *(
                    pool.modify_endpoint(e, rtp_timeout=timeout)
                    for e in self.endpoints()
                    if e.id not in timed_now
                )
            )
        return True

    async def _await_ack(self) -> None:
        if not await self.leg_a.confirmed():  # the stack sent the caller a BYE
            self.feed(Bye(self.caller_id))

    async def _connect(self, branch: str, rtp_timeout: float | None = None) -> bytes:
        """Point the callee endpoint at ``branch``'s media, bridge, and return the SDP
        the caller gets. ``rtp_timeout`` (at the answer) goes with the endpoints'
        modifies; ``_timed`` then names the endpoints that got it."""
        self._timed = frozenset[str]()
        assert self.a is not None and self.b is not None
        media = self.remote.get(branch)
        if media is None:
            raise RuntimeError(f"{branch} has no SDP")
        if media is self.connected:
            await self.media_apps.stop_ringback()
            return self.a.sdp()
        pool = self.engine.media
        transferred = self.dialog_a is not None  # the caller's codec is settled
        if transferred:
            chosen = self.a.codecs[0]
        else:
            chosen = self.media_apps.early_codec or answer_codec(self.offer, media)
        fields: dict[str, Any] = {"codecs": specs(media.worker_codecs())}
        if (remote := remote_fields(media)) is not None:
            fields["remote"] = remote
        timed: dict[str, Any] = {} if rtp_timeout is None else {"rtp_timeout": rtp_timeout}
        fields.update(timed)
        # one round trip to the worker: the steps are sent together (in this order, which
        # the worker keeps) and their answers awaited together
        steps = [self.media_apps.stop_ringback(), pool.modify_endpoint(self.b.endpoint, **fields)]
        if not transferred:
            first = LegMedia("", 0, (chosen,), self.offer.dtmf, "sendrecv")
            a_codecs = specs(first.worker_codecs())
            steps.append(pool.modify_endpoint(self.a.endpoint, codecs=a_codecs, **timed))
        if not self.bridged:
            steps.append(pool.bridge(self.a.endpoint, self.b.endpoint))
        await asyncio.gather(*steps)
        if timed:
            self._timed = frozenset(
                e.id for e in (self.b.endpoint, *(() if transferred else (self.a.endpoint,)))
            )
        self.bridged = True
        self.b.codecs, self.b.dtmf = media.codecs, media.dtmf
        self.b.address = self.addresses.get(branch, self.b.address)
        if not transferred:
            self.a.codecs, self.a.dtmf = (chosen,), self.offer.dtmf
        if self.connected is not None:
            self.a.version += 1
        self.connected = media
        return self.a.sdp()

    def _refresh_session(self, channel: str) -> None:
        """(Re)start the caller's session timer: answered, or refreshed by its phone;
        not refreshed, it is over at the interval less ``min(32, interval / 3)`` (§10,
        as on the callee's leg)."""
        timer = self.session_timer
        if timer is not None and not timer.we_refresh and channel == self.caller_id:
            at = caller_session(timer).expires_at(self.engine.now())
            self._arm(ArmTimer("session", at))

    def bye(self, dialog: SipDialog) -> None:
        if not dialog.ended:
            self._spawn(self._send_bye(dialog))

    async def _send_bye(self, dialog: SipDialog) -> None:
        with contextlib.suppress(DialogError):
            await dialog.request("BYE")

    def _arm(self, action: Action) -> None:
        if not isinstance(action, ArmTimer | DisarmTimer):
            return
        old = self._timers.pop(action.kind, None)
        if old is not None:
            old.cancel()
        if isinstance(action, ArmTimer):
            delay = max(0.0, action.at - self.engine.now())
            loop = asyncio.get_running_loop()
            self._timers[action.kind] = loop.call_later(delay, self.feed, TimerFired(action.kind))

    def stop_timer(self, kind: str) -> None:
        """Disarm one of the call's timers ("session": the caller left a conference)."""
        self._arm(DisarmTimer(kind))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _release(self) -> None:
        await self.members.release()
        for keeper in (self.callee_keeper, self.caller_keeper):
            if keeper is not None:
                keeper.stop()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for invite in self.invites.values():
            invite.cancel()
            invite.close()
        if self.consultation is not None:
            self.consultation.release()  # its target gets a BYE or a CANCEL
        for leg in self.joining.values():  # spliced in too late
            self.bye(leg.dialog)
        deleting = [self.engine.media.delete_endpoint(e) for e in self.endpoints()]
        for outcome in await asyncio.gather(*deleting, return_exceptions=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, MediaError):
                raise outcome
        self.engine.forget(self)
        self._detach()

    def _detach(self) -> None:
        """Leave nothing of the ended call reachable from the SIP objects that outlive
        it (an INVITE client transaction keeps its user for 32 s to ACK a late 2xx)."""
        dialogs = [self.dialog_a, *self.dialogs.values(), *self.early_dialogs.values()]
        owners: list[object] = [getattr(d, "owner", None) for d in dialogs]
        owners += [invite.owner for invite in self.invites.values()]
        detach_owners(self, owners)

    def feed_hangup(self, cause: str, status: int = 480) -> None:
        self.feed(Hangup(cause, status))
