"""Members beyond the two of a call: parties invited by ``call/add_member`` and
supervisors attached by ``call/listen``, and the conference the media worker mixes
for them.

A call starts as two channels bridged in one worker. Each extra member is rung from
the PBX (``Dialler.ring_phones``, the click-to-call ringing) on an endpoint created
next to the call's own, so all of them can be mixed. Once one answers, the call's
endpoints leave their bridge for a *mix* in which each hears whom
``conference_hearing.hearing`` says: every party hears every other, a monitor hears
the parties and is heard as its mode allows. The call keeps its ``callid`` and its
one CDR; every change of a member goes out as a ``CallStatus`` (``call_changed``).

Extra members live beside the two-party machine (``B2bua``), not in it: their
channels are listed in ``Call.extras`` (so line status, ``call/query`` and the
events show them) and their dialogs end here. When one of the first two parties
hangs up while at least two parties remain, its BYE is absorbed here and the others
go on talking; when fewer than two parties would remain, the call ends as usual and
every extra member gets a BYE. When only the first two are left, they are bridged
again, so hold and transfer work as in any two-party call.

``CallMembers.invite`` and ``CallMembers.remix`` are the engine API for a conference
in a call (``invite(account, contacts, ...)`` rings one more member in;
``remix()`` applies who hears whom after any change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from kilopbx.core.errors import DomainError
from kilopbx.engine.anchor import Anchor, remote_fields, specs
from kilopbx.engine.call_model import Channel, ChannelState, Role
from kilopbx.engine.conference_hearing import Monitoring, hearing
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import Contact
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected
from kilopbx.media.pool import EndpointRef, MediaError, MixRef, Playback
from kilopbx.sip.dialog_user import SipDialog

if TYPE_CHECKING:
    from kilopbx.engine.call_dial import PendingLeg, PhoneAnswer
    from kilopbx.engine.call_leg import LegOwner
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.routing import OutboundChoice

log = logging.getLogger(__name__)

MAX_MEMBERS = 9  # parties and monitors of one call (spec 70 proposes 9)
MAX_INVITES = 100  # members ever rung into one call: what it remembers stays bounded
NOT_IDLE = "calls.member_not_idle"  # the invitee or monitor cannot take a call now
CALL_GONE = "calls.no_such_channel"  # the same reason as calls.NO_SUCH_CHANNEL


class MemberDial(Protocol):
    """How a member is rung: ``call_dial.Dialler`` (an extension's phones) or
    ``outside_leg.OutsideRinger`` (a number outside, through a trunk)."""

    channel_id: str
    pending: PendingLeg
    owner: LegOwner

    @property
    def trunk(self) -> str:
        """The trunk of its current attempt ("" for an extension)."""
        ...

    def cancel(self) -> None: ...

    async def ring_phones(self, endpoint: EndpointRef) -> PhoneAnswer | None: ...


@dataclass(slots=True, eq=False)
class ExtraMember:
    channel: Channel
    endpoint: EndpointRef
    dialler: MemberDial
    monitoring: Monitoring | None = None  # None: a party of the conference
    anchor: Anchor | None = None  # once answered
    dialog: SipDialog | None = None
    released: bool = False  # its endpoint is deleted


class CallMembers:
    """The extra members of one call (``runtime.members``). It is also the
    ``LegCall`` of their dialogs: their BYEs, re-INVITEs and keys come here."""

    def __init__(self, runtime: CallRuntime) -> None:
        # the call owns its members: a strong link back would be a reference cycle, and
        # every ended call would wait for the cyclic collector (docs/decisions.md)
        self._runtime = weakref.ref(runtime)
        self.extra: dict[str, ExtraMember] = {}
        self.mix: MixRef | None = None
        self.lock = asyncio.Lock()  # one API change (listen, add_member) at a time
        self.closed = False
        self.left: set[str] = set()  # channels that left while the call went on
        # parties held through the API (``conference_hold``): their hold music
        self.held: dict[str, Playback | None] = {}
        self._remixing = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def runtime(self) -> CallRuntime:
        runtime = self._runtime()
        if runtime is None:
            raise RuntimeError("the call of these members is gone")
        return runtime

    # -- what the runtime and the engine ask -------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether the call has a live extra member (it is no plain two-party call)."""
        return any(m.channel.live for m in self.extra.values())

    def endpoints(self) -> list[EndpointRef]:
        return [m.endpoint for m in self.extra.values() if not m.released]

    def holds(self, channel_id: str) -> bool:
        member = self.extra.get(channel_id)
        return member is not None and member.channel.live

    def monitor_of(self, agent: str) -> ExtraMember | None:
        """The live supervisor attached to the party on channel ``agent``."""
        for member in self.extra.values():
            watch = member.monitoring
            if watch is not None and watch.agent == agent and member.channel.live:
                return member
        return None

    def parties(self) -> list[tuple[Channel, EndpointRef]]:
        """The talking parties (not the monitors) with their endpoints."""
        runtime = self.runtime
        call = runtime.call
        found: list[tuple[Channel, EndpointRef]] = []
        if call.caller.talking and runtime.a is not None:
            found.append((call.caller, runtime.a.endpoint))
        answered = call.answered_by
        if answered is not None and answered.talking and runtime.b is not None:
            found.append((answered, runtime.b.endpoint))
        for member in self.extra.values():
            if member.monitoring is None and member.channel.talking:
                found.append((member.channel, member.endpoint))
        return found

    def absorbs_bye(self, channel_id: str) -> bool:
        """One of the first two parties hung up: True when the conference goes on
        without it (two parties or more remain), False when the call ends."""
        if self.closed or not any(
            m.monitoring is None and m.channel.talking for m in self.extra.values()
        ):
            return False
        parties = self.parties()
        leaving = next((c for c, _ in parties if c.id == channel_id), None)
        if leaving is None or len(parties) - 1 < 2:
            return False
        leaving.state = ChannelState.ENDED
        self.left.add(channel_id)
        self._spawn(self._party_left(channel_id))
        return True

    def drop_party(self, channel_id: str) -> bool:
        """The API hangs up one of the first two parties: True when the conference
        goes on without it (it gets a BYE), False when the whole call must end."""
        if not self.absorbs_bye(channel_id):
            return False
        runtime = self.runtime
        caller = channel_id == runtime.caller_id
        dialog = runtime.dialog_a if caller else runtime.dialogs.get(channel_id)
        if dialog is not None:
            runtime.bye(dialog)
        return True

    def hang_up(self, channel_id: str) -> None:
        """The API hangs up one extra member."""
        member = self.extra.get(channel_id)
        if member is not None:
            self._spawn(self._drop(member))

    def timed_out(self, endpoint_id: str) -> bool:
        """No RTP from an extra member's phone: it leaves (True), the call goes on."""
        for member in self.extra.values():
            if member.endpoint.id == endpoint_id and not member.released:
                self._spawn(self._drop(member))
                return True
        return False

    async def release(self) -> None:
        """The call ends: stop ringing, hang up and delete every extra member."""
        self.closed = True
        for member in list(self.extra.values()):
            member.dialler.cancel()
            if member.dialog is not None:
                self.runtime.bye(member.dialog)
            member.channel.state = ChannelState.ENDED
            await self._release_endpoint(member)

    # -- joining -----------------------------------------------------------------------------

    async def invite(
        self,
        account: SipAccount,
        contacts: Sequence[Contact],
        *,
        shown: str,
        monitoring: Monitoring | None = None,
        auto_answer: bool = False,
    ) -> Channel:
        """Ring ``account``'s phones into the call (``shown`` is the number their
        display shows); returns its channel, ringing. It joins when it answers."""
        from kilopbx.engine.call_dial import Dialler  # builds on us

        def ringer() -> Dialler:
            return Dialler(self.runtime.engine, account, shown, contacts, auto_answer=auto_answer)

        return await self._join(ringer, account.number, monitoring)

    async def invite_outside(self, caller: SipAccount, choice: OutboundChoice) -> Channel:
        """Ring ``choice.number`` outside, through ``choice``'s trunks with ``caller``'s
        caller ID, into the call (``kilopbx.engine.outside_leg``)."""
        from kilopbx.engine.outside_leg import OutsideRinger  # builds on call_dial

        def ringer() -> OutsideRinger:
            return OutsideRinger(self.runtime.engine, choice, caller)

        return await self._join(ringer, choice.number, None)

    async def _join(
        self, ringer: Callable[[], MemberDial], number: str, monitoring: Monitoring | None
    ) -> Channel:
        from kilopbx.engine.call_dial import DTMF, FIRST_LEG_CODECS  # builds on us

        runtime = self.runtime
        engine = runtime.engine
        live = [m for m in self.extra.values() if m.channel.live]
        if 2 + len(live) >= MAX_MEMBERS or len(self.extra) >= MAX_INVITES:
            raise DomainError(NOT_IDLE, f"a call has at most {MAX_MEMBERS} members")
        if runtime.a is None or self._gone():
            raise DomainError(CALL_GONE, "the call has ended")
        codecs = [(c.payload_type, c.name) for c in (*FIRST_LEG_CODECS, DTMF)]
        try:
            endpoint = await engine.media.create_endpoint(codecs, near=runtime.a.endpoint)
        except MediaError as exc:
            raise DomainError(CALL_GONE, f"the call's media has gone: {exc}") from exc
        dialler = ringer()
        channel = Channel(dialler.channel_id, Role.CALLEE, number)
        channel.trunk = dialler.trunk
        member = ExtraMember(channel, endpoint, dialler, monitoring)
        self.extra[channel.id] = member
        if self._gone():  # it ended while the endpoint was made
            channel.state = ChannelState.ENDED
            await self._release_endpoint(member)
            raise DomainError(CALL_GONE, "the call has ended")
        runtime.call.extras[channel.id] = channel
        engine.track(runtime)  # its endpoint belongs to the call; its line rings
        engine.hold_changed(runtime)  # CallStatus: the new member RINGs
        self._spawn(self._ring(member))
        return channel

    async def set_mode(self, member: ExtraMember, monitoring: Monitoring) -> None:
        """A supervisor switches mode (listen, whisper, barge) on a live listen."""
        member.monitoring = monitoring
        if member.channel.talking:
            await self.remix()

    async def _ring(self, member: ExtraMember) -> None:
        runtime = self.runtime
        engine = runtime.engine
        try:
            answer = await member.dialler.ring_phones(member.endpoint)
        except Exception:
            log.exception("call %s: ringing %s failed", runtime.call.id, member.channel.number)
            answer = None
        if answer is None or self._gone() or not member.channel.live:
            if answer is not None:
                runtime.bye(answer.dialog)
            await self._drop(member)
            return
        # from here its dialog is ours: a BYE comes to leg_bye, the call's end BYEs it
        member.anchor, member.dialog = answer.anchor, answer.dialog
        member.dialler.owner.call = self
        if member.dialler.pending.hung_up or answer.dialog.ended:
            await self._drop(member)
            return
        media = answer.media
        fields: dict[str, Any] = {"codecs": specs(media.worker_codecs())}
        fields["rtp_timeout"] = engine.rtp_timeout
        if (remote := remote_fields(media)) is not None:
            fields["remote"] = remote
        with contextlib.suppress(MediaError):
            await engine.media.modify_endpoint(member.endpoint, **fields)
        answer.anchor.codecs, answer.anchor.dtmf = media.codecs, media.dtmf
        if self._gone() or not member.channel.live:  # the call or the member went meanwhile
            await self._drop(member)
            return
        member.channel.state = ChannelState.UP
        member.channel.trunk = member.dialler.trunk  # the trunk that answered
        if member.monitoring is None:  # a party, not a supervisor: it is recorded too
            await runtime.media_apps.record_party(member.endpoint)
        await self.remix()
        engine.hold_changed(runtime)  # CallStatus: it ANSWERs

    # -- leaving -----------------------------------------------------------------------------

    async def _drop(self, member: ExtraMember) -> None:
        """An extra member leaves (hung up, unanswered, timed out, or the API)."""
        runtime = self.runtime
        if member.released:
            return
        member.dialler.cancel()
        self.held.pop(member.channel.id, None)  # its music ends with its endpoint
        was_live = member.channel.live
        member.channel.state = ChannelState.ENDED
        if member.dialog is not None:
            runtime.bye(member.dialog)
        await self._release_endpoint(member)
        if self.closed or runtime.machine.ended or not was_live:
            return
        self.left.add(member.channel.id)
        if member.monitoring is None and len(self.parties()) < 2:
            runtime.feed_hangup("members_left", 200)  # the last party is alone: the call ends
            return
        await self.remix()
        runtime.engine.hold_changed(runtime)

    async def _party_left(self, channel_id: str) -> None:
        """One of the first two parties left a conference that goes on."""
        runtime = self.runtime
        caller = channel_id == runtime.caller_id
        if caller:  # its session timer (RFC 4028) must not end the others' call
            runtime.session_timer = None
            runtime.stop_timer("session")
        await self.stop_music(channel_id)
        anchor = runtime.a if caller else runtime.b
        if anchor is not None:  # its phone has gone: silence is no reason to hang up
            with contextlib.suppress(MediaError):
                await runtime.engine.media.modify_endpoint(anchor.endpoint, rtp_timeout=0.0)
        await self.remix()
        runtime.engine.hold_changed(runtime)

    async def _release_endpoint(self, member: ExtraMember) -> None:
        if member.released:
            return
        member.released = True
        engine = self.runtime.engine
        engine.forget_endpoint(member.endpoint.id)
        with contextlib.suppress(MediaError):
            await engine.media.delete_endpoint(member.endpoint)

    async def stop_music(self, channel_id: str) -> None:
        """The party is held no more (resumed, or gone): its hold music stops."""
        playing = self.held.pop(channel_id, None)
        if playing is not None and not playing.ended.done():
            with contextlib.suppress(MediaError):
                await self.runtime.engine.media.stop(playing.ref)

    # -- the mix -----------------------------------------------------------------------------

    async def remix(self) -> None:
        """Tell the worker who hears whom now. With only the first two parties left
        (no extra member talking), they are bridged again as a plain call."""
        runtime = self.runtime
        pool = runtime.engine.media
        async with self._remixing:
            if self.closed or runtime.machine.ended:
                return
            parties = [(c, ref) for c, ref in self.parties() if c.id not in self.held]
            monitors = {
                m.channel.id: (m.monitoring, m.endpoint)
                for m in self.extra.values()
                if m.monitoring is not None and m.channel.talking
            }
            refs = {c.id: ref for c, ref in parties}
            refs.update({name: ref for name, (_, ref) in monitors.items()})
            plain = not monitors and all(
                not m.channel.talking or m.channel.id in self.held for m in self.extra.values()
            )
            try:
                if plain and len(parties) == 2 and runtime.a is not None and runtime.b is not None:
                    if self.mix is not None:
                        mix, self.mix = self.mix, None
                        with contextlib.suppress(MediaError):
                            await pool.unmix(mix)
                    await pool.bridge(runtime.a.endpoint, runtime.b.endpoint)
                    return
                heard = hearing(
                    [c.id for c, _ in parties], {n: w for n, (w, _) in monitors.items()}
                )
                wire = {refs[n]: [refs[h] for h in hears] for n, hears in heard.items()}
                if wire:
                    self.mix = await pool.mix(wire, mix=self.mix)
            except MediaError as exc:  # the call is ending with its worker
                log.info("call %s: cannot mix: %s", runtime.call.id, exc)

    # -- LegCall: the extra members' dialogs -------------------------------------------------

    def leg_bye(self, channel: str) -> None:
        self.hang_up(channel)

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        """A member's re-INVITE (a new address, or its hold): our SDP stays."""
        member = self.extra.get(channel)
        if member is None or member.anchor is None or member.released:
            raise SdpRejected("the member has left")
        remote = remote_fields(media)
        if remote is not None:
            with contextlib.suppress(MediaError):
                await self.runtime.engine.media.modify_endpoint(member.endpoint, remote=remote)
        member.anchor.version += 1
        return member.anchor.sdp()

    def leg_sdp(self, channel: str) -> bytes | None:
        member = self.extra.get(channel)
        return None if member is None or member.anchor is None else member.anchor.sdp()

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        return []

    def leg_digit(self, channel: str, digit: str, duration_ms: int) -> None:
        pass  # a conference relays no keys

    # -- housekeeping ------------------------------------------------------------------------

    def _gone(self) -> bool:
        return self.closed or self.runtime.machine.ended

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
