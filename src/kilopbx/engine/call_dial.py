"""Click-to-call (``call/dial``): the PBX rings the caller's phone first and, once it
answers, calls the callee exactly as if the caller had dialled.

The first leg is our own INVITE to every contact of the calling extension (first
answer wins, the others are cancelled), offering every codec the media worker has on
an endpoint created for it. The phone's answer then plays the part of a caller's
offer: a ``CallRuntime`` takes over with an ``OriginatedLeg`` as its caller side, so
routing, forwarding, forking, media and the end of the call are the ordinary ones.

While the caller's phone rings the call is already live: listed by the API (the
caller ``ALERT``), reported as ringing to the observers, and it can be hung up. If
that phone never answers, the call ends there like any unconnected call: the
observers hear of its end with a cause (``first_leg_outcome``), which gives the
``CallFailed`` event and the CDR.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kilopbx.core.errors import DomainError
from kilopbx.engine.anchor import Anchor
from kilopbx.engine.b2bua import BUSY_STATUSES, UNAVAILABLE_STATUSES
from kilopbx.engine.call_leg import EndedCall, LegOwner
from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.call_runtime import CallRuntime
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import Contact, OutboundChoice
from kilopbx.engine.sdp_negotiation import (
    AUDIO,
    DTMF_PAYLOAD,
    TELEPHONE_EVENT,
    Codec,
    LegMedia,
    SdpRejected,
    read_media,
)
from kilopbx.media.pool import EndpointRef, MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_client import ClientInvite, InviteAnswered, InviteFailed, build_invite
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

FIRST_LEG_CODECS = tuple(Codec(pt, name) for name, pt in AUDIO.items())
DTMF = Codec(DTMF_PAYLOAD, TELEPHONE_EVENT)


@dataclass(frozen=True, slots=True)
class FirstLegOutcome:
    """Why a click-to-call ended before the caller's phone answered, as the engine
    says it of any call: ``cause``, CDR-style ``disposition`` and SIP ``status``."""

    cause: str
    disposition: str
    status: int


def first_leg_outcome(
    statuses: Sequence[int], *, timed_out: bool = False, hung_up: str = ""
) -> FirstLegOutcome:
    """The outcome of ringing the caller's phones when none answered (``statuses``:
    their final answers): ``hung_up`` (the API, a shutdown) wins; then the ring time
    running out (``timed_out``: ``no_answer``); then the phones' answers, read as
    the engine reads a callee's (486/600 busy, 408/480/503 unavailable, else the
    lowest class)."""
    if hung_up:
        return FirstLegOutcome(hung_up, "NO ANSWER", 480)  # as a runtime hung up ringing
    if timed_out:
        return FirstLegOutcome("no_answer", "NO ANSWER", 480)
    if any(s in BUSY_STATUSES for s in statuses):
        return FirstLegOutcome("busy", "BUSY", 486)
    if not statuses or all(s in UNAVAILABLE_STATUSES for s in statuses):
        return FirstLegOutcome("unavailable", "NO ANSWER", min(statuses, default=480))
    status = min(statuses, key=lambda s: (s // 100, s))
    return FirstLegOutcome("failed", "FAILED", status)


class PendingLeg(EndedCall):
    """Stands in for the runtime while the caller's phone rings: a BYE or an offer
    in that moment ends or refuses nothing that exists yet."""

    def __init__(self) -> None:
        self.hung_up = False

    def leg_bye(self, channel: str) -> None:
        self.hung_up = True

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        raise SdpRejected("the call is not set up yet")


class OriginatedLeg:
    """The caller's side of a click-to-call: a phone that already answered our INVITE.
    Ringing it again means nothing; refusing the call means hanging it up."""

    def __init__(self, dialog: SipDialog, peer_host: str) -> None:
        self.dialog = dialog
        self.peer_host = peer_host
        self.hops = 69
        self._final = False

    @property
    def final_sent(self) -> bool:
        return self._final

    @property
    def cancelled(self) -> bool:
        return self.dialog.ended

    def provisional(self, status: int, *, body: bytes = b"") -> None:
        pass  # the phone is off-hook already; it hears silence until the answer

    def answer(self, body: bytes) -> SipDialog:
        # our offer listed every codec and the phone chose one; the callee's codec is
        # matched to that choice (or transcoded), so no re-INVITE is needed
        self._final = True
        return self.dialog

    def reject(self, status: int) -> None:
        self._final = True
        if not self.dialog.ended:
            asyncio.get_running_loop().create_task(bye_quietly(self.dialog))

    async def confirmed(self) -> bool:
        return not self.dialog.ended


async def bye_quietly(dialog: SipDialog) -> None:
    with contextlib.suppress(DialogError):
        await dialog.request("BYE")


class Dialler:
    """One click-to-call while the caller's phone rings."""

    trunk = ""  # the phones it rings are an extension's (``call_members.MemberDial``)

    def __init__(
        self,
        engine: CallEngine,
        caller: SipAccount,
        callee: str,
        contacts: Sequence[Contact],
        *,
        auto_answer: bool = False,
    ) -> None:
        self.engine = engine
        self.auto_answer = auto_answer
        self.caller = caller
        self.callee = callee
        self.contacts = contacts
        self.call_id = engine.new_call_id()
        self.channel_id = engine.new_channel_id(caller.number)
        self.pending = PendingLeg()
        self.owner = LegOwner(self.pending, self.channel_id)
        self.outside: OutboundChoice | None = None  # a callee outside: how it leaves
        self.started_at = engine.now()
        self.invites: list[ClientInvite] = []
        self.hung_up_by = ""  # the cause, once the call was hung up while ringing
        self.timed_out = False  # a phone rang for the whole ring time
        self.runtime: CallRuntime | None = None  # the call, once the phone answered

    def start(self) -> None:
        """Live from now on (listed, can be hung up) while the phones are rung."""
        self.engine.dialling[self.call_id] = self
        self.engine.spawn(self.run())

    def record(self, outcome: FirstLegOutcome | None = None) -> CallRecord:
        """The call while the caller's phone rings (its member ``ALERT``), or once
        it ended there (``outcome``)."""
        state = "ringing" if outcome is None else "ended"
        return CallRecord(
            call_id=self.call_id,
            caller=self.caller.number,
            caller_name=self.caller.display_name,
            dialled=self.callee,
            callee="",
            state=state,
            started_at=self.started_at,
            ended_at=None if outcome is None else self.engine.now(),
            disposition="" if outcome is None else outcome.disposition,
            cause="" if outcome is None else outcome.cause,
            sip_status=0 if outcome is None else outcome.status,
            members=(Member(self.caller.number, self.channel_id, "caller", state),),
            call_type="Internal" if self.outside is None else "Outbound",
        )

    def cancel(self) -> None:
        """Stop ringing (the call the phone was rung for has ended)."""
        self.hung_up_by = self.hung_up_by or "cancelled"
        for invite in self.invites:
            invite.cancel()

    def hang_up(self, cause: str) -> None:
        """End the call while the caller's phone rings (``call/hangup``, shutdown)."""
        if self.runtime is not None:  # answered meanwhile: the call itself ends
            self.runtime.feed_hangup(cause)
            return
        self.hung_up_by = self.hung_up_by or cause
        for invite in self.invites:
            invite.cancel()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.engine.dialling.pop(self.call_id, None)

    async def _run(self) -> None:
        engine = self.engine
        try:
            codecs = [(c.payload_type, c.name) for c in (*FIRST_LEG_CODECS, DTMF)]
            endpoint = await engine.first_endpoint(codecs)
        except (MediaError, OSError, RuntimeError, TimeoutError) as exc:
            log.error("call/dial %s: no media: %s", self.call_id, exc)
            engine.dialling.pop(self.call_id, None)
            engine.tell_ended(self.record(FirstLegOutcome("failed", "FAILED", 503)))
            return
        failures: list[int] = []
        answered: PhoneAnswer | None = None
        if not self.hung_up_by:
            engine.tell_ringing(self.record())
            try:
                answered = await self.ring_phones(endpoint, failures)
            except Exception:
                log.exception("call/dial %s failed", self.call_id)
                failures.append(500)
        if answered is None:
            with contextlib.suppress(MediaError):
                await engine.media.delete_endpoint(endpoint)
            outcome = first_leg_outcome(failures, timed_out=self.timed_out, hung_up=self.hung_up_by)
            engine.dialling.pop(self.call_id, None)  # its line is free again
            engine.tell_ended(self.record(outcome))
            return
        await self._connect(answered)

    async def ring_phones(
        self, endpoint: EndpointRef, failures: list[int] | None = None
    ) -> PhoneAnswer | None:
        """Ring every contact of the caller; the first answer with usable SDP wins and
        the other contacts are cancelled (or hung up, when they answered too). The
        final answers of the phones that did not answer go to ``failures``. Also how a
        member joins a live call (``kilopbx.engine.call_members``)."""
        engine = self.engine
        invites = self.invites
        failures = [] if failures is None else failures
        anchors: list[Anchor] = []
        for contact in self.contacts:
            destination = Destination(contact.transport, contact.host, contact.port)
            anchor = Anchor(
                endpoint,
                engine.media_address(contact.host),
                FIRST_LEG_CODECS,
                DTMF,
                str(secrets.randbelow(2**31)),
            )
            request = build_invite(
                contact.uri,
                from_address=f"<sip:{self.callee}@{engine.domain}>",
                to_address=f"<sip:{self.caller.number}@{engine.domain}>",
                contact=engine.sip.contact(destination),
                body=anchor.sdp(),
                headers=self._hints(),
            )
            ring = float(self.caller.calls.ring_timeout or engine.ring_timeout or 60)
            invites.append(await engine.sip.invite(request, destination, self.owner, timer_c=ring))
            if self.hung_up_by:  # hung up while the INVITEs went out
                invites[-1].cancel()
            anchors.append(anchor)

        async def final(index: int) -> tuple[int, InviteAnswered | InviteFailed]:
            return index, await invites[index].final()

        winner: PhoneAnswer | None = None
        for future in asyncio.as_completed([final(i) for i in range(len(invites))]):
            index, event = await future
            if not isinstance(event, InviteAnswered):
                failures.append(event.response.status)
                self.timed_out |= event.timed_out
                continue
            if winner is not None:
                await bye_quietly(event.dialog)  # a second phone answered too
                continue
            try:
                media = read_media(event.response.body)
            except SdpRejected:
                await bye_quietly(event.dialog)
                failures.append(488)
                continue
            winner = PhoneAnswer(event.dialog, media, anchors[index], self.contacts[index].host)
            for other in invites:
                other.cancel()
        return winner

    def _hints(self) -> list[tuple[str, str]]:
        """The usual auto-answer hints; a phone that ignores them simply rings."""
        if not self.auto_answer:
            return []
        domain = self.engine.domain
        return [
            ("Call-Info", f"<sip:{domain}>;answer-after=0"),
            ("Alert-Info", "info=alert-autoanswer"),
        ]

    async def _connect(self, answer: PhoneAnswer) -> None:
        engine = self.engine
        leg = OriginatedLeg(answer.dialog, answer.host)
        runtime = CallRuntime(
            engine,
            lambda _runtime: leg,
            self.caller,
            self.callee,
            answer.media,
            call_id=self.call_id,
            caller_channel=self.channel_id,
        )
        runtime.outside = self.outside
        runtime.a = answer.anchor
        runtime.dialog_a = answer.dialog
        media = answer.media
        with contextlib.suppress(MediaError):
            await engine.media.modify_endpoint(
                answer.anchor.endpoint,
                codecs=[{"pt": pt, "name": name} for pt, name in media.worker_codecs()],
                remote={"host": media.host, "port": media.port},
            )
        runtime.call.created_at = self.started_at  # the call began with the dial
        self.owner.call = runtime
        self.runtime = runtime
        if self.pending.hung_up or answer.dialog.ended:
            runtime.leg_bye(self.channel_id)
        elif self.hung_up_by:  # hung up through the API just as the phone answered
            runtime.feed_hangup(self.hung_up_by)
        await runtime.run()


@dataclass(frozen=True, slots=True)
class PhoneAnswer:
    dialog: SipDialog
    media: LegMedia
    anchor: Anchor
    host: str


def dial(
    engine: CallEngine,
    caller: str,
    callee: str,
    *,
    auto_answer: bool = False,
    outside: OutboundChoice | None = None,
) -> str:
    """Click-to-call: ring ``caller``'s phones, then call ``callee`` from there.
    Returns the call id at once; what happens next shows in the call's states."""
    from kilopbx.engine.calls import CALLER_NOT_IDLE, NO_SUCH_CALLEE, NO_SUCH_CALLER

    account = engine.directory.by_number(caller)
    if account is None:
        raise DomainError(NO_SUCH_CALLER, f"no extension {caller[:16]}")
    contacts = engine.registrations.contacts_for(caller)
    if not contacts or account.calls.do_not_disturb:
        raise DomainError(CALLER_NOT_IDLE, f"extension {caller} cannot take a call")
    if outside is None and engine.directory.by_number(callee) is None:
        from kilopbx.engine.park_dial import ParkedDial, parked_call  # builds on us

        found = parked_call(engine, callee)
        if found is None:
            raise DomainError(NO_SUCH_CALLEE, f"no extension {callee[:16]}")
        slot, runtime = found  # a parked call: the caller's phone retrieves it
        ParkedDial(engine, account, slot, contacts, runtime, auto_answer=auto_answer).start()
        return runtime.call.id
    dialler = Dialler(engine, account, callee, contacts, auto_answer=auto_answer)
    dialler.outside = outside
    dialler.start()
    return dialler.call_id


async def originate(
    engine: CallEngine, caller: str, callee: str, *, auto_answer: bool = False
) -> str:
    """``dial``, where ``callee`` may also be a number outside, reached through the
    outbound routes with ``caller``'s permissions (a number that matches no route
    is "no such callee" when it is as long as an extension number)."""
    from kilopbx.engine.park_dial import parked_call  # builds on us
    from kilopbx.engine.trunk_calls import route_dialled

    directory = engine.directory
    if directory.by_number(callee) is not None or directory.by_number(caller) is None:
        return dial(engine, caller, callee, auto_answer=auto_answer)
    if parked_call(engine, callee) is not None:  # a parking slot's number: retrieve
        return dial(engine, caller, callee, auto_answer=auto_answer)
    choice = await route_dialled(engine, caller, callee)
    return dial(engine, caller, callee, auto_answer=auto_answer, outside=choice)
