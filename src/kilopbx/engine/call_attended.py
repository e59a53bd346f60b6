"""Attended transfer through the API (spec 70 §6): ``call/attended_transfer`` and
``call/attended_transfer_operate`` (complete, abort, swap, threeway).

A talks to B; B (the *transferor*) consults C. Starting puts A on hold exactly as
``call/hold`` does (re-INVITE ``sendonly``, hold music, ``HOLD``) and calls C from B
on a *consultation leg*: a channel of the same call with an endpoint of its own,
created next to B's in the same worker. B hears the ringback tone until C answers,
then B's endpoint is bridged with C's. The consultation leg is listed as one more
member of the call (``RING``, then ``ANSWER``, ``HOLD`` while swapped away).

- ``swap`` moves B between the two: the one B leaves is held (A by a re-INVITE as
  above, C hears the hold music);
- ``abort`` drops C (BYE, or CANCEL while it rings) and gives A back to B;
- ``threeway`` resumes A and mixes the three endpoints in the worker: each hears
  the other two. From there ``swap`` goes to C (A held), ``abort`` drops C and
  ``complete`` leaves A and C; A or B hanging up ends the call for all three;
- ``complete`` splices C into A's call in B's place (machine event ``Splice``): B
  gets a BYE, C's endpoint is bridged with A's and A is taken off hold. C's phone
  sees no re-INVITE; the call keeps its ``callid`` and its one CDR. While C still
  rings, ``complete`` waits for the answer in the background (A hears the ringback
  tone meanwhile).

C refusing, not answering, or hanging up during the consultation gives A back to B
as ``abort`` does. B hanging up once C has answered completes the transfer. The call
ending meanwhile releases the consultation with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.engine.anchor import Anchor, remote_fields, specs
from kilopbx.engine.b2bua import Bye
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.call_model import Channel, ChannelState, Role
from kilopbx.engine.call_moves import Splice
from kilopbx.engine.call_splice import TalkingLeg, drop_leg, offer_leg
from kilopbx.engine.call_transfer import NOT_CONNECTED, bridged_peer, check_target
from kilopbx.engine.calls import NO_SUCH_CALLEE, NO_SUCH_CHANNEL
from kilopbx.engine.outside_leg import OutsideInvite, outside_channel_id
from kilopbx.engine.routing import Contact
from kilopbx.engine.sdp_negotiation import LegMedia, SdpRejected, read_media
from kilopbx.engine.sounds import HOLD_FALLBACK, RINGBACK
from kilopbx.engine.trunk_branch import UNREACHABLE
from kilopbx.engine.trunk_calls import outside_number, route_for_member
from kilopbx.media.pool import MediaError, MixRef, Playback
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_client import ClientInvite, InviteAnswered, InviteFailed, build_invite
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.engine.call_control import CallControl
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

NO_TRANSFER = "calls.no_attended_transfer"  # no consultation for that transferor
CONSULTING = "calls.consulting"  # the transferor consults already
OPERATIONS = ("complete", "abort", "swap", "threeway")
SPLICE_WAIT = 5.0  # the call's task performs a splice well within this


class Consultation:
    """The consultation leg of one attended transfer, owned by its call's runtime."""

    def __init__(
        self, runtime: CallRuntime, transferor: str, held: str, channel: Channel, anchor: Anchor
    ) -> None:
        self.runtime = runtime
        self.transferor = transferor
        self.held = held  # the party waiting (A)
        self.channel = channel  # the target's leg (C)
        self.anchor = anchor
        self.dialog: SipDialog | None = None
        self.invite: ClientInvite | OutsideInvite | None = None
        self.media: LegMedia | None = None
        self.with_target = True  # whom the transferor talks to: C, else A
        self.completing = False  # ``complete`` came while C rang
        self.answered = asyncio.Event()
        self.lock = asyncio.Lock()  # one operation at a time
        self.tone: Playback | None = None  # ringback to the transferor, music to C
        self.task: asyncio.Task[None] | None = None
        self.control: CallControl | None = None
        self.ring_timer: asyncio.TimerHandle | None = None  # C's no-answer time
        self.mix: MixRef | None = None  # the three mixed (threeway)

    @property
    def live(self) -> bool:
        return self.runtime.consultation is self and self.channel.live

    def hung_up(self) -> None:
        """C's BYE: A goes back to B."""
        self.channel.state = ChannelState.ENDED
        self._spawn_abort()

    def hand_over(self) -> bool:
        """B hung up while consulting a C that answered: complete the transfer (A and C
        talk) rather than end the call. False when that cannot be (C not answered)."""
        if self.control is None or not self.live or not self.answered.is_set():
            return False
        task = asyncio.get_running_loop().create_task(_hand_over(self.control, self))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
        return True

    def release(self) -> None:
        """The call ends: C gets a BYE (or a CANCEL), its endpoint goes with the call's."""
        self.channel.state = ChannelState.ENDED
        if self.ring_timer is not None:
            self.ring_timer.cancel()
        if self.invite is not None:
            self.invite.cancel()
        if self.dialog is not None:
            self.runtime.bye(self.dialog)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()

    async def stop_tone(self) -> None:
        tone, self.tone = self.tone, None
        if tone is not None and not tone.ended.done():
            with contextlib.suppress(MediaError):
                await self.runtime.engine.media.stop(tone.ref)

    async def play(self, where: Anchor, source: str) -> None:
        await self.stop_tone()
        with contextlib.suppress(MediaError):
            self.tone = await self.runtime.engine.media.play(where.endpoint, source, loop=True)

    def _spawn_abort(self) -> None:
        if self.control is None or self.runtime.consultation is not self:
            return
        task = asyncio.get_running_loop().create_task(_abort_quietly(self.control, self))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)

    # -- the call to C -------------------------------------------------------------------

    async def run(self, contact: Contact, caller: str) -> None:
        """Send C's INVITE and follow it; C's answer is bridged with B (or, after
        ``complete`` came meanwhile, spliced into the call)."""
        runtime = self.runtime
        engine = runtime.engine
        destination = Destination(contact.transport, contact.host, contact.port)
        request = build_invite(
            contact.uri,
            from_address=caller,
            to_address=f"<sip:{self.channel.number}@{engine.domain}>",
            contact=engine.sip.contact(destination),
            body=self.anchor.sdp(),
            headers=[("Max-Forwards", "70")],
        )
        try:
            invite = await engine.sip.invite(
                request, destination, LegOwner(runtime, self.channel.id)
            )
        except Exception:
            log.exception("call %s: consultation INVITE failed", runtime.call.id)
            self.hung_up()
            return
        self.invite = invite
        if not self.live:
            invite.cancel()
        account = engine.directory.by_number(self.channel.number)
        own = account.calls.ring_timeout if account is not None else None
        timeout = own or engine.ring_timeout
        if timeout:  # C not answering in time ends the consultation, as abort does
            self.ring_timer = asyncio.get_running_loop().call_later(timeout, invite.cancel)
        async for event in invite:
            match event:
                case InviteAnswered(response, dialog):
                    self.dialog = dialog
                    await self._answered(response.body)
                case InviteFailed():
                    self.hung_up()

    async def run_outside(self, leg: OutsideInvite) -> None:
        """C is a number outside: the INVITE goes through the route's trunks
        (``outside_leg``); its answer is taken as a phone's."""
        runtime = self.runtime
        engine = runtime.engine
        self.invite = leg
        if not self.live:
            leg.cancel()
        if engine.ring_timeout:  # C not answering in time ends the consultation
            self.ring_timer = asyncio.get_running_loop().call_later(engine.ring_timeout, leg.cancel)

        def offer(host: str) -> bytes:  # our address as that trunk's target sees it
            self.anchor = replace(self.anchor, address=engine.media_address(host))
            return self.anchor.sdp()

        try:
            result = await leg.answer(offer)
        except Exception:
            log.exception("call %s: consultation INVITE failed", runtime.call.id)
            result = UNREACHABLE
        self.channel.trunk = leg.trunk
        if not isinstance(result, InviteAnswered):
            self.hung_up()
            return
        self.dialog = result.dialog
        await self._answered(result.response.body)

    async def _answered(self, body: bytes) -> None:
        runtime, pool = self.runtime, self.runtime.engine.media
        if self.ring_timer is not None:
            self.ring_timer.cancel()
        if not self.live:
            assert self.dialog is not None
            runtime.bye(self.dialog)
            return
        try:
            media = read_media(body)
        except SdpRejected:
            assert self.dialog is not None
            runtime.bye(self.dialog)
            self.hung_up()
            return
        self.media = media
        fields = {"codecs": specs(media.worker_codecs()), "rtp_timeout": runtime.engine.rtp_timeout}
        if (remote := remote_fields(media)) is not None:
            fields["remote"] = remote
        with contextlib.suppress(MediaError):
            await pool.modify_endpoint(self.anchor.endpoint, **fields)
        self.anchor.codecs, self.anchor.dtmf = media.codecs, media.dtmf
        self.channel.state = ChannelState.UP
        self.answered.set()
        if self.completing and self.control is not None:
            with contextlib.suppress(DomainError):  # the call ended meanwhile
                await self.control.attended.finish(self)
            return
        await self.stop_tone()
        transferor = runtime.anchor_of(self.transferor)
        if self.with_target and transferor is not None:
            with contextlib.suppress(MediaError):
                await pool.bridge(transferor.endpoint, self.anchor.endpoint)
        runtime.engine.hold_changed(runtime)


_TASKS: set[asyncio.Task[None]] = set()


async def _hand_over(control: CallControl, consultation: Consultation) -> None:
    try:
        await control.attended.finish(consultation)
    except DomainError:  # the call is ending anyway: B's hang-up ends it
        consultation.runtime.feed(Bye(consultation.transferor))


async def _abort_quietly(control: CallControl, consultation: Consultation) -> None:
    with contextlib.suppress(DomainError):
        await control.attended.abort(consultation)


class AttendedTransfers:
    """The API's attended transfers, over the engine's ``CallControl`` (its holds)."""

    def __init__(self, control: CallControl) -> None:
        self.control = control
        self._starting: set[str] = set()  # calls whose consultation is being set up

    async def start(self, channel_id: str, number: str, permission: str | None = None) -> str:
        """``call/attended_transfer``: hold the transferor's peer, call ``number``."""
        runtime, _ = self.control.locate(channel_id)
        call_id = runtime.call.id
        if runtime.consultation is not None or call_id in self._starting:
            raise DomainError(CONSULTING, "this call has a consultation in progress")
        self._starting.add(call_id)
        try:
            return await self._start(channel_id, number, permission)
        finally:
            self._starting.discard(call_id)

    async def _start(self, channel_id: str, number: str, permission: str | None) -> str:
        control = self.control
        runtime, transferor = control.locate(channel_id)
        held = bridged_peer(runtime, transferor)
        engine = runtime.engine
        number = number.strip()
        account = engine.directory.by_number(transferor.number)
        outside = None
        contacts: Sequence[Contact] = ()
        if outside_number(engine, number):
            account, outside = await route_for_member(engine, transferor, number, permission)
        else:
            number = check_target(runtime, number)
            contacts = engine.registrations.contacts_for(number)
        if (outside.number if outside else number) in (
            transferor.number,
            _number_of(runtime, held),
        ):
            raise DomainError(NO_SUCH_CALLEE, "the target is in the call already")
        if outside is None and not contacts:
            raise DomainError(NO_SUCH_CALLEE, f"extension {number} cannot be reached")
        await control.hold(channel_id)
        ours = runtime.anchor_of(channel_id)
        if runtime.machine.ended or ours is None or runtime.consultation is not None:
            raise DomainError(NO_SUCH_CHANNEL, "the call has ended")
        if outside is not None:
            channel_id_of, trunk = outside_channel_id(engine, outside)
            channel = Channel(channel_id_of, Role.CALLEE, outside.number, trunk=trunk)
        else:
            channel = Channel(engine.new_channel_id(number), Role.CALLEE, number)
        host = contacts[0].host if contacts else engine.domain
        try:
            consultation = await self._consultation(runtime, channel_id, held, channel, ours, host)
        except DomainError:
            with contextlib.suppress(DomainError):  # A is not left on hold
                await control.unhold(channel_id)
            raise
        await consultation.play(ours, RINGBACK)
        if outside is not None:
            assert account is not None
            owner = LegOwner(runtime, channel.id)
            leg = OutsideInvite(engine, outside, account, owner, channel.trunk)
            dialling = consultation.run_outside(leg)
        else:
            caller = (
                engine.caller_address(account)
                if account is not None
                else f"<sip:{transferor.number}@{engine.domain}>"
            )
            dialling = consultation.run(contacts[0], caller)
        consultation.task = asyncio.get_running_loop().create_task(dialling)
        engine.hold_changed(runtime)  # the target is listed, ringing
        return runtime.call.id

    async def _consultation(
        self,
        runtime: CallRuntime,
        transferor: str,
        held: str,
        channel: Channel,
        ours: Anchor,
        host: str,
    ) -> Consultation:
        engine = runtime.engine
        codecs = [(codec.payload_type, codec.name) for codec in ours.codecs]
        if ours.dtmf is not None:
            codecs.append((ours.dtmf.payload_type, ours.dtmf.name))
        try:
            endpoint = await engine.media.create_endpoint(codecs, near=ours.endpoint)
        except (MediaError, OSError, RuntimeError, TimeoutError) as exc:
            raise DomainError(NO_SUCH_CHANNEL, f"no media for the consultation: {exc}") from exc
        anchor = Anchor(
            endpoint,
            engine.media_address(host),
            ours.codecs,
            ours.dtmf,
            str(secrets.randbelow(2**31)),
        )
        consultation = Consultation(runtime, transferor, held, channel, anchor)
        consultation.control = self.control
        runtime.consultation = consultation
        if runtime.machine.ended:  # the call's end released everything but this
            runtime.consultation = None
            with contextlib.suppress(MediaError):
                await engine.media.delete_endpoint(endpoint)
            raise DomainError(NO_SUCH_CHANNEL, "the call has ended")
        engine.track(runtime)
        return consultation

    async def operate(self, channel_id: str, operation: str) -> str:
        """``call/attended_transfer_operate``."""
        if operation not in OPERATIONS:
            raise DomainError(MISSING_PARAMETER, f"operate is one of {', '.join(OPERATIONS)}")
        runtime, _ = self.control.locate(channel_id)
        consultation = runtime.consultation
        if consultation is None or consultation.transferor != channel_id:
            raise DomainError(NO_TRANSFER, "no attended transfer of that channel")
        call_id = runtime.call.id
        if operation == "abort":
            await self.abort(consultation)
            return call_id
        if operation == "complete":
            await self.complete(consultation)
            return call_id
        if not consultation.answered.is_set():
            raise DomainError(NOT_CONNECTED, "the target has not answered")
        if operation == "threeway":
            await self.threeway(consultation)
            return call_id
        await self.swap(consultation)
        return call_id

    async def threeway(self, consultation: Consultation) -> None:
        """A resumed; A, B and C each hear the other two."""
        runtime = consultation.runtime
        async with consultation.lock:
            if not consultation.live:
                raise DomainError(NO_TRANSFER, "the attended transfer is over")
            if consultation.mix is not None:
                return  # mixed already
            await consultation.stop_tone()  # C's music, if B was with A
            if consultation.with_target:  # A is held: B and A are bridged again
                await self.control.unhold(consultation.transferor)
                consultation.with_target = False
            anchors = [
                runtime.anchor_of(consultation.held),
                runtime.anchor_of(consultation.transferor),
                consultation.anchor,
            ]
            members = {anchor.endpoint: None for anchor in anchors if anchor is not None}
            if len(members) != 3:
                raise DomainError(NO_SUCH_CHANNEL, "the call has ended")
            try:
                consultation.mix = await runtime.engine.media.mix(members)
            except MediaError as exc:  # B stays with A, C waits (as after swap)
                raise DomainError(NO_SUCH_CHANNEL, f"the three cannot be mixed: {exc}") from exc
            consultation.channel.state = ChannelState.UP
            runtime.engine.hold_changed(runtime)

    async def _leave_mix(self, consultation: Consultation) -> None:
        """Back from threeway: B with A (bridged), C out of the mix."""
        mix, consultation.mix = consultation.mix, None
        if mix is None:
            return
        runtime, pool = consultation.runtime, consultation.runtime.engine.media
        with contextlib.suppress(MediaError):
            await pool.unmix(mix)
        held, ours = (
            runtime.anchor_of(consultation.held),
            runtime.anchor_of(consultation.transferor),
        )
        if held is not None and ours is not None:
            with contextlib.suppress(MediaError):
                await pool.bridge(held.endpoint, ours.endpoint)

    async def abort(self, consultation: Consultation) -> None:
        """Drop C; B talks to A again."""
        runtime = consultation.runtime
        async with consultation.lock:
            if runtime.consultation is not consultation:
                raise DomainError(NO_TRANSFER, "the attended transfer is over")
            runtime.consultation = None
            await consultation.stop_tone()
            await self._leave_mix(consultation)
            consultation.release()
            runtime.engine.forget_endpoint(consultation.anchor.endpoint.id)
            with contextlib.suppress(MediaError):
                await runtime.engine.media.delete_endpoint(consultation.anchor.endpoint)
            if not consultation.with_target or runtime.machine.ended:
                runtime.engine.hold_changed(runtime)
                return
            with contextlib.suppress(DomainError):  # the call may be ending meanwhile
                await self.control.unhold(consultation.transferor)
            runtime.engine.hold_changed(runtime)

    async def swap(self, consultation: Consultation) -> None:
        """B leaves the one it talks to (held) for the other."""
        runtime, pool = consultation.runtime, consultation.runtime.engine.media
        async with consultation.lock:
            if not consultation.live:
                raise DomainError(NO_TRANSFER, "the attended transfer is over")
            await self._leave_mix(consultation)  # from threeway: to C, as from A
            if consultation.with_target:  # to A; C hears the music
                library = runtime.engine.sounds()
                await consultation.play(
                    consultation.anchor, library.hold_music() if library else HOLD_FALLBACK
                )
                consultation.channel.state = ChannelState.HELD
                consultation.with_target = False
                await self.control.unhold(consultation.transferor)
            else:  # to C; A is held again
                await self.control.hold(consultation.transferor)
                await consultation.stop_tone()
                ours = runtime.anchor_of(consultation.transferor)
                if ours is not None:
                    with contextlib.suppress(MediaError):
                        await pool.bridge(ours.endpoint, consultation.anchor.endpoint)
                consultation.channel.state = ChannelState.UP
                consultation.with_target = True
            runtime.engine.hold_changed(runtime)

    async def complete(self, consultation: Consultation) -> None:
        """A and C talk, B leaves; while C rings, when C answers."""
        runtime = consultation.runtime
        if not consultation.answered.is_set():
            async with consultation.lock:
                if not consultation.live:
                    raise DomainError(NO_TRANSFER, "the attended transfer is over")
                consultation.completing = True
                held = runtime.anchor_of(consultation.held)
                if held is not None:  # A hears C ringing
                    await consultation.play(held, RINGBACK)
            return
        await self.finish(consultation)

    async def finish(self, consultation: Consultation) -> None:
        """Splice C into the call in B's place, then take A off hold."""
        runtime = consultation.runtime
        async with consultation.lock:
            await consultation.stop_tone()
            over = not consultation.live or runtime.machine.ended
            if over or consultation.dialog is None or consultation.media is None:
                raise DomainError(NO_TRANSFER, "the attended transfer is over")
            mix, consultation.mix = consultation.mix, None
            if mix is not None:  # the splice bridges A and C
                with contextlib.suppress(MediaError):
                    await runtime.engine.media.unmix(mix)
            if not consultation.live or runtime.machine.ended:
                raise DomainError(NO_TRANSFER, "the attended transfer is over")
            # from here to the feed nothing waits: the call's task still runs, so the
            # leg is either spliced or released with the call
            runtime.consultation = None
            leg = TalkingLeg(
                consultation.channel, consultation.anchor, consultation.dialog, consultation.media
            )
            offer_leg(runtime, leg)
            runtime.feed(Splice(consultation.held, consultation.channel.id))
            try:
                await asyncio.wait_for(leg.joined.wait(), SPLICE_WAIT)
            except TimeoutError as exc:
                await drop_leg(runtime, leg)
                raise DomainError(NO_SUCH_CHANNEL, "the call ended during the transfer") from exc
            if consultation.held in self.control.holds(runtime.call.id):
                with contextlib.suppress(DomainError):  # A's phone may refuse; it talks
                    await self.control.unhold(consultation.held)
        log.info(
            "call %s: attended transfer to %s done", runtime.call.id, consultation.channel.number
        )


def _number_of(runtime: CallRuntime, channel_id: str) -> str:
    return next((c.number for c in runtime.call.channels() if c.id == channel_id), "")
