"""A call the PBX answers itself and hands to an application (``CALL_APPLICATIONS``).

The caller's INVITE is answered with an endpoint of our own (its first codec, and
telephone-event when it offered it); the application then drives the call through
``AppChannel``: prompts, keys (RFC 4733 and in-band keys from the worker, SIP INFO
from the dialog, all in one queue). When it returns ``Connect`` to an extension, an
ordinary ``CallRuntime`` takes over with the already answered leg (as click-to-call
does), so ringing, forwarding, the bridge, events and records are the usual ones.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from kilopbx.engine.anchor import Anchor, remote_address, remote_fields
from kilopbx.engine.app_media import AppMedia
from kilopbx.engine.applications import (
    AppChannel,
    CallApplication,
    Connect,
    DialOut,
    Enter,
    Outcome,
    Release,
    application_for,
)
from kilopbx.engine.call_dial import OriginatedLeg
from kilopbx.engine.call_leg import LegOwner, answer_direction
from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.call_runtime import CallRuntime
from kilopbx.engine.callee_session import KeptLeg, SessionKeeper, caller_session
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected
from kilopbx.engine.session_timer import SessionTimer
from kilopbx.engine.trunk_calls import NOT_PERMITTED
from kilopbx.events.call_model import CallMember, MemberKind, MemberStatus
from kilopbx.media import control
from kilopbx.media.pool import MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_server import ServerInvite
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

# (channel id, call path) -> the caller as events show it
MemberOf = Callable[[str, str], CallMember]
MAX_HOPS = 16  # applications one call may pass through (an IVR menu loop ends)


async def run_application(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    caller: SipAccount,
    number: str,
    offer: LegMedia,
    *,
    kind: str | None = None,
    caller_channel: str | None = None,
    member: MemberOf | None = None,
    trunk: str = "",
    did: str = "",
    call_id: str | None = None,
    timer: SessionTimer | None = None,
) -> bool:
    """Answer an INVITE with the application of ``kind`` that owns ``number``: the
    destination handler for an inbound route's ``ivr`` destination (``kind="ivr"``),
    and for any number dialled that no extension has. False, with nothing answered,
    when no application owns it. ``caller_channel`` and ``member`` name a caller that
    is no extension (a trunk's caller) in channel ids and events; ``trunk`` and ``did``
    the trunk and number an inbound call came through (records of type Inbound);
    ``call_id`` an id the call already has (an inbound control window's); ``timer``
    the session timer the caller asked for (RFC 4028)."""
    application = await application_for(engine.applications(), number, kind)
    if application is None:
        return False
    call = AppCall(
        engine, transaction, caller, number, offer,
        caller_channel=caller_channel, member=member, call_id=call_id,
    )  # fmt: skip
    call.trunk, call.did, call.call_path = trunk, did, number
    call.timer = timer
    await call.run(application)
    return True


class AppLeg(OriginatedLeg):
    """The caller's leg an application answered and then connected to an extension:
    ``origin``, the application call it came from, takes it back when the extension
    cannot take the call (its busy or no-answer forwarding to voicemail)."""

    def __init__(self, dialog: SipDialog, peer_host: str, origin: AppCall) -> None:
        super().__init__(dialog, peer_host)
        self.origin = origin


class AppCall(AppMedia):
    """One answered call inside applications, from the answer to its hand-over."""

    def __init__(
        self,
        engine: CallEngine,
        transaction: ServerTransactionHandle,
        caller: SipAccount,
        dialled: str,
        offer: LegMedia,
        *,
        caller_channel: str | None = None,
        member: MemberOf | None = None,
        call_id: str | None = None,
    ) -> None:
        """``caller_channel`` and ``member``: how a caller that is no extension (a
        trunk's caller) is named in channel ids and events; ``call_id``: the id the
        call already has, if any."""
        super().__init__(engine, call_id or engine.new_call_id())
        self.transaction = transaction
        self.caller = caller
        self.dialled = dialled
        self.offer = offer
        self.channel_id = caller_channel or engine.new_channel_id(caller.number)
        self.member_of = member
        self.owner = LegOwner(self, self.channel_id)
        self.invite: ServerInvite | None = None
        self.dialog: SipDialog | None = None
        self.cause = "caller"
        self.started_at = engine.now()
        self.answered_at: float | None = None
        self.trunk = ""  # an inbound trunk call: its trunk and the number it called
        self.did = ""
        self.call_path = ""  # the application that has the call now (an outside caller's)
        self.timer: SessionTimer | None = None  # the caller's session timer (RFC 4028)
        self.keeper: SessionKeeper | None = None  # its clock while an application has it
        self.outside: OutboundChoice | None = None  # a route's PIN asked: where it goes
        self.unreached = ""  # handed over by an extension that could not take it: why

    # -- the life of the call ----------------------------------------------------------------

    async def run(self, application: CallApplication) -> None:
        try:  # not answered: the endpoint is released and the INVITE answered below too
            handed_over = await self._answer() and await self._drive(application)
        except Exception:
            log.exception("application call %s failed", self.id)
            handed_over = False
        finally:  # unless a call that took the caller back listens there now
            listeners = self.engine.media_listeners
            if (
                self.anchor is not None
                and listeners.get(self.anchor.endpoint.id) == self._media_note
            ):
                del listeners[self.anchor.endpoint.id]
        if handed_over:
            return
        if self.answered_at is not None:
            self.engine._tell("call_ended", self.call_record("ended"))
        if self.dialog is not None and not self.dialog.ended:
            with contextlib.suppress(DialogError):
                await self.dialog.request("BYE")
        elif self.invite is not None and not self.transaction.final_sent:
            self.invite.reject(480)
        await self._release()

    def adopt(self, invite: ServerInvite, anchor: Anchor) -> None:
        """Take over a caller's INVITE still unanswered, and its media endpoint, from
        a call that could not reach its callee (voicemail on busy or no answer)."""
        owner = invite.owner
        if isinstance(owner, LegOwner):
            owner.call = self
            self.owner = owner
        self.invite = invite
        self.anchor = anchor

    def take_back(self, number: str) -> AppCall:
        """A new application call (a new call id, as for an unanswered caller) on this
        call's answered leg, which it connected to an extension that did not take it."""
        call = AppCall(
            self.engine, self.transaction, self.caller, number, self.offer,
            caller_channel=self.channel_id, member=self.member_of,
        )  # fmt: skip
        call.trunk, call.did, call.timer = self.trunk, self.did, self.timer
        call.owner, call.invite, call.dialog, call.anchor = (
            self.owner, self.invite, self.dialog, self.anchor
        )  # fmt: skip
        self.owner.call = call
        return call

    async def _answer(self) -> bool:
        if self.dialog is not None and self.anchor is not None:  # taken back: answered
            return await self._answered_already(self.anchor)
        engine = self.engine
        offer = self.offer
        chosen = offer.codecs[0]
        if self.invite is None:
            self.invite = engine.sip.server_invite(
                self.transaction, self.owner, on_cancel=self._cancelled
            )
        if self.anchor is None:
            try:
                endpoint = await engine.first_endpoint(
                    offer.worker_codecs(chosen), remote_address(offer)
                )
            except (MediaError, OSError, RuntimeError, TimeoutError) as exc:
                log.error("application call %s: no media: %s", self.id, exc)
                self.invite.reject(503)
                return False
            address = engine.media_address(self.transaction.source.host)
            self.anchor = Anchor(
                endpoint, address, (chosen,), offer.dtmf, str(secrets.randbelow(2**31))
            )
        else:  # adopted: the endpoint may list every codec offered, or another choice
            endpoint = self.anchor.endpoint
            self.anchor.codecs, self.anchor.dtmf = (chosen,), offer.dtmf
            answered = LegMedia("", 0, (chosen,), offer.dtmf, "sendrecv")
            with contextlib.suppress(MediaError):
                await engine.media.unbridge(endpoint)
                await engine.media.modify_endpoint(
                    endpoint, codecs=[{"pt": p, "name": n} for p, n in answered.worker_codecs()]
                )
        engine.media_listeners[endpoint.id] = self._media_note
        if self.gone:
            return False
        try:
            timer = [] if self.timer is None else self.timer.answer_headers()
            self.dialog = self.invite.answer(self.anchor.sdp(), headers=timer)
        except DialogError:
            return False
        with contextlib.suppress(MediaError):
            await engine.media.modify_endpoint(endpoint, rtp_timeout=engine.rtp_timeout)
        if await self.invite.acknowledged() is None:
            return False
        self.answered_at = self.engine.now()  # a caller gone at once still has its CDR
        self._keep_session()
        self.engine._tell("call_answered", self.call_record("answered"))
        return not self.gone

    async def _answered_already(self, anchor: Anchor) -> bool:
        self.engine.media_listeners[anchor.endpoint.id] = self._media_note
        with contextlib.suppress(MediaError):  # whatever the ringing call left playing
            await self.engine.media.unbridge(anchor.endpoint)
        self.answered_at = self.engine.now()
        self._keep_session()
        self.engine._tell("call_answered", self.call_record("answered"))
        return not self.gone

    def _keep_session(self) -> None:
        """The caller's session timer while applications have the call: its refreshes
        restart the clock (or we refresh, when it named us); an expired session ends
        the call (cause ``session_expired``)."""
        dialog = self.dialog
        if self.timer is None or dialog is None:
            return
        leg = KeptLeg(
            name=f"application call {self.id}",
            now=self.engine.now,
            current=lambda: not self.gone and self.owner.call is self and self.dialog is dialog,
            sdp=lambda: self.leg_sdp(self.channel_id),
            expire=self._session_expired,
        )
        self.keeper = SessionKeeper(leg, self.channel_id, dialog, caller_session(self.timer))
        self.keeper.start()

    def _session_expired(self) -> None:
        self.cause = "session_expired"
        self._gone()

    async def _drive(self, application: CallApplication) -> bool:
        """Run applications until one connects the call or it ends; True when an
        extension took it over."""
        number = self.dialled
        for _ in range(MAX_HOPS):
            self.call_path = number
            outcome: Outcome = await application.run(self, number)
            await self._stop_playing()
            if self.gone:
                return False
            match outcome:
                case Release(cause):
                    log.info("application call %s ends: %s", self.id, cause)
                    self.cause = "application"
                    return False
                case Enter(kind, target):
                    found = await application_for(self.engine.applications(), target, kind)
                case Connect(target, path):
                    if self.outside is not None or self.engine.directory.by_number(target):
                        await self._connect(target, path)
                        return True
                    found = await application_for(self.engine.applications(), target)
                case DialOut(target, choice):
                    self.outside = choice
                    await self._connect(target)
                    return True
            if found is None:
                log.info("application call %s: nothing answers %s", self.id, target[:32])
                return False
            application, number = found, target
        log.info("application call %s: too many applications", self.id)
        return False

    async def _connect(self, number: str, call_path: str = "") -> None:
        """An ordinary call from the caller to extension ``number``, on the answered
        leg; ``call_path``: the application that connected it (the callee's
        ``callpath``)."""
        assert self.dialog is not None and self.anchor is not None
        engine = self.engine
        offer = self.offer
        leg = AppLeg(self.dialog, self.transaction.source.host, self)
        leg.hops = engine.hops_left(self.transaction.request)
        answered = LegMedia(offer.host, offer.port, self.anchor.codecs, offer.dtmf, offer.direction)
        runtime = CallRuntime(
            engine, lambda _runtime: leg, self.caller, number, answered,
            call_id=self.id, caller_channel=self.channel_id,
        )  # fmt: skip
        runtime.a = self.anchor
        runtime.dialog_a = self.dialog
        engine.media_listeners.pop(self.anchor.endpoint.id, None)
        runtime.call.caller.trunk, runtime.did = self.trunk, self.did
        runtime.outside = self.outside
        runtime.call_path = call_path
        runtime.session_timer = self.timer  # its clock from the answer on (keep_caller_session)
        if self.keeper is not None:
            self.keeper.stop()
        self.owner.call = runtime
        if self.gone:
            runtime.leg_bye(self.channel_id)
        await runtime.run()

    def call_record(self, state: str) -> CallRecord:
        """The call as observers see it while an application has it (answered by the
        PBX: the number dialled is its callee); a record of the whole call if it ends
        there."""
        ended = state == "ended"
        refused = self.outside is not None and self.cause == "application"  # a wrong PIN
        codecs = self.anchor.codecs if self.anchor is not None else ()
        return CallRecord(
            call_id=self.id,
            caller=self.caller.number,
            caller_name=self.caller.display_name,
            dialled=self.dialled,
            callee="",
            state=state,
            started_at=self.started_at,
            answered_at=self.answered_at,
            ended_at=self.engine.now() if ended else None,
            disposition=("FAILED" if refused else "ANSWERED") if ended else "",
            cause=(NOT_PERMITTED if refused else self.cause) if ended else "",
            sip_status=200,
            codec_caller=codecs[0].name if codecs else "",
            members=(
                Member(
                    self.caller.number,
                    self.channel_id,
                    "caller",
                    "ended" if ended else "up",
                    self.trunk,
                    self.call_path if self.trunk else "",  # 80 §2.5: external members
                ),
            ),
            call_type="Inbound" if self.trunk else "Outbound" if self.outside else "Internal",
            source_trunk=self.trunk,
            did=self.did,
        )

    async def _release(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()
        if self.anchor is not None:
            self.engine.forget_endpoint(self.anchor.endpoint.id)
            with contextlib.suppress(MediaError):
                await self.engine.media.delete_endpoint(self.anchor.endpoint)

    def _cancelled(self) -> None:
        self._gone()

    # -- the dialog (LegCall) ----------------------------------------------------------------

    def leg_bye(self, channel: str) -> None:
        self._gone()

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        anchor = self.anchor
        if anchor is None:
            raise SdpRejected("no media yet")
        with contextlib.suppress(MediaError):
            if (remote := remote_fields(media)) is not None:
                await self.engine.media.modify_endpoint(anchor.endpoint, remote=remote)
        anchor.version += 1
        anchor.direction = answer_direction(media)
        return anchor.sdp()

    def leg_sdp(self, channel: str) -> bytes | None:
        return None if self.anchor is None else self.anchor.sdp()

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        if self.keeper is not None:
            self.keeper.phone_refreshed()
        return [] if self.timer is None else self.timer.answer_headers()

    def leg_digit(self, channel: str, digit: str, duration_ms: int) -> None:
        self._digit(digit)

    # -- media notifications -----------------------------------------------------------------

    def _media_note(self, note: control.Notification) -> None:
        if note.event == "dtmf":
            self._digit(str(note.data.get("digit", "")))
        elif note.event == "rtp_timeout":  # no RTP, or (with a "why") worker lost, shutdown
            log.info(
                "application call %s: %s, hanging up", self.id, note.data.get("why", note.event)
            )
            self.cause = str(note.data.get("why", "rtp_timeout"))
            self._gone()

    # -- AppChannel --------------------------------------------------------------------------

    @property
    def call_id(self) -> str:
        return self.id

    def member(self, call_path: str) -> CallMember:
        if self.member_of is not None:
            return self.member_of(self.channel_id, call_path)
        if self.trunk:  # an outside caller: the trunk's inbound member
            return CallMember.trunk_leg(
                MemberKind.INBOUND,
                caller=self.caller.number,
                callee=self.did,
                trunk=self.trunk,
                channel_id=self.channel_id,
                leg_id=self.id,
                status=MemberStatus.ANSWERED,
                call_path=call_path,
            )
        return CallMember.extension(
            self.caller.number, self.channel_id, MemberStatus.ANSWERED, call_path=call_path
        )


def _is_channel(call: AppCall) -> AppChannel:
    return call  # mypy checks that AppCall is an AppChannel
