"""What applications ask of live calls through the API (spec 70 §4): hold, unhold,
mute and unmute, on channels that stay where they are.

Hold: the member that asks keeps its leg; every member bridged with it (in a
two-party call, the other one) is held. The held party's endpoint leaves the bridge
(it hears hold music once the media workers can play, silence until then) and its
phone gets a re-INVITE with our side ``sendonly`` (RFC 3264 §8.4), so it stops
sending; its member shows ``HOLD``. Unhold reverses both, named by either side of
the hold. Mute drops what a member's phone sends in the worker (the endpoint keeps
counting it, so the RTP timeout does not fire) while it still hears the others.

One operation runs at a time per call; one that races a hang-up answers "no such
channel" and leaves nothing behind: the call's own task still ends it and releases
its endpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.anchor import Anchor
from kilopbx.engine.b2bua import HoldChanged
from kilopbx.engine.call_attended import CONSULTING, AttendedTransfers
from kilopbx.engine.call_model import Channel
from kilopbx.engine.call_park import NO_SUCH_SLOT
from kilopbx.engine.call_transfer import NOT_CONNECTED, bridged_peer, transfer
from kilopbx.engine.calls import NO_SUCH_CHANNEL
from kilopbx.engine.conference_hold import (
    RENEGOTIATING,
    hold_party,
    in_conference,
    reinvite_held,
)
from kilopbx.engine.trunk_calls import outside_number, route_for_member
from kilopbx.media.pool import MediaError
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

MAX_CHANNELS = 32  # channels one call/mute names at most
ANSWER_WAIT = 2.0  # the API answers after this long even if the phone has not yet


class CallControl:
    def __init__(self, engine: CallEngine) -> None:
        self.engine = engine
        self._holds: dict[str, dict[str, str]] = {}  # call id -> held channel -> holder
        self._locks: dict[str, asyncio.Lock] = {}
        self._late: set[asyncio.Task[None]] = set()  # re-INVITEs the API stopped waiting for
        self.attended = AttendedTransfers(self)

    # -- finding members ---------------------------------------------------------------------

    def locate(self, channel_id: str) -> tuple[CallRuntime, Channel]:
        """The live call and channel ``channel_id`` names, or NO_SUCH_CHANNEL."""
        for runtime in self.engine.calls.values():
            if runtime.machine.ended:
                continue
            for channel in runtime.call.channels():
                if channel.id == channel_id and channel.live:
                    return runtime, channel
        raise DomainError(NO_SUCH_CHANNEL, f"no live channel {channel_id[:60]}")

    def holds(self, call_id: str) -> dict[str, str]:
        """The holds the API placed in a call: held channel -> the channel that asked."""
        return dict(self._holds.get(call_id, {}))

    # -- hold --------------------------------------------------------------------------------

    async def hold(self, channel_id: str) -> str:
        runtime, channel = self.locate(channel_id)
        if in_conference(runtime):  # the party named is held (``conference_hold``)
            async with self._lock(runtime.call.id):
                await self._soon(hold_party(runtime, channel, on_hold=True))
            return runtime.call.id
        held = bridged_peer(runtime, channel)
        call_id = runtime.call.id
        async with self._lock(call_id):
            _still_live(runtime, held)
            holds = self._holds.setdefault(call_id, {})
            if held not in holds:  # holding a held call changes nothing
                await self._bounded(runtime, held, channel.id, on_hold=True)
                holds[held] = channel.id
        return call_id

    async def unhold(self, channel_id: str) -> str:
        runtime, channel = self.locate(channel_id)
        call_id = runtime.call.id
        if channel_id in runtime.members.held:
            async with self._lock(call_id):
                await self._soon(hold_party(runtime, channel, on_hold=False))
            return call_id
        async with self._lock(call_id):
            holds = self._holds.get(call_id, {})
            held = channel_id if channel_id in holds else None
            held = held or next((h for h, by in holds.items() if by == channel_id), None)
            if held is None:
                raise DomainError(NO_SUCH_CHANNEL, f"{channel_id[:60]} is in no hold")
            _still_live(runtime, held)
            await self._bounded(runtime, held, holds[held], on_hold=False)
            del holds[held]
        return call_id

    async def _bounded(
        self, runtime: CallRuntime, held: str, holder: str, *, on_hold: bool
    ) -> None:
        """Renegotiate, waiting at most ANSWER_WAIT for the phone: one that takes
        longer (up to the transaction timeout) finishes in the background, and a
        later operation on the call meanwhile answers RENEGOTIATING."""
        await self._soon(self._renegotiate(runtime, held, holder, on_hold=on_hold))

    async def _soon(self, renegotiation: Coroutine[Any, Any, None]) -> None:
        """Run a re-INVITE's work, waiting for it at most ANSWER_WAIT (see ``_bounded``)."""
        task = asyncio.get_running_loop().create_task(renegotiation)
        done, _ = await asyncio.wait({task}, timeout=ANSWER_WAIT)
        if task in done:
            task.result()
            return
        self._late.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._late.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.info("a late re-INVITE failed: %s", exc)

    async def _renegotiate(
        self, runtime: CallRuntime, held: str, holder: str, *, on_hold: bool
    ) -> None:
        """Re-INVITE the phone on ``held`` (sendonly or sendrecv), move its endpoint
        out of the bridge or back and start or stop its hold music (as if ``holder``'s
        phone had held the call); the member's state changes in the call's own task."""
        anchor, dialog = _side(runtime, held)
        pool = self.engine.media
        if on_hold:
            with contextlib.suppress(MediaError):
                await pool.unbridge(anchor.endpoint)
        try:
            response = await reinvite_held(pool, anchor, dialog, on_hold=on_hold)
        except DialogError as exc:  # the phone is renegotiating itself, or has left
            if on_hold:
                await self._rebridge(runtime)
            _still_live(runtime, held)
            raise DomainError(RENEGOTIATING, "the phone is changing its media now") from exc
        accepted = 200 <= response.status < 300
        if accepted != on_hold:  # unheld, or a hold the phone refused: back in the bridge
            await self._rebridge(runtime)
        if not accepted and dialog.ended:  # 408 or 481: the phone has gone
            runtime.leg_bye(held)
        _still_live(runtime, held)
        if not accepted:
            raise DomainError(NOT_CONNECTED, f"the phone answered {response.status}")
        await runtime.media_apps.on_hold(holder, on_hold)
        runtime.feed(HoldChanged(held, on_hold))

    async def _rebridge(self, runtime: CallRuntime) -> None:
        if runtime.machine.ended or runtime.a is None or runtime.b is None:
            return
        with contextlib.suppress(MediaError):
            await self.engine.media.bridge(runtime.a.endpoint, runtime.b.endpoint)

    # -- blind transfer ----------------------------------------------------------------------

    async def transfer(self, channel_id: str, number: str, permission: str | None = None) -> str:
        """``call/transfer``: the party on ``channel_id`` now calls ``number``; its peer
        leaves. A hold the API placed in the call is released first. A number outside
        is dialled through the route its peer (the transferor, an extension) may use."""
        runtime, channel = self.locate(channel_id)
        peer = bridged_peer(runtime, channel)
        _not_consulting(runtime)
        number = number.strip()
        outside = None
        if outside_number(self.engine, number):  # through the transferor's route
            transferor = next(c for c in runtime.call.channels() if c.id == peer)
            _, outside = await route_for_member(self.engine, transferor, number, permission)
        call_id = runtime.call.id
        async with self._lock(call_id):
            _still_live(runtime, channel.id)
            await self._drop_holds(runtime, channel.id)
            transfer(runtime, channel, number, outside)
        return call_id

    # -- parking -----------------------------------------------------------------------------

    async def park(self, channel_id: str, slot: str | None) -> str:
        """``call/callpark``: park the member on ``channel_id``; its peer (the parker,
        rung back when nobody retrieves the call) leaves. Returns the slot."""
        runtime, channel = self.locate(channel_id)
        parker = bridged_peer(runtime, channel)
        _not_consulting(runtime)
        lot = self.engine.parking
        if lot is None:
            raise DomainError(NO_SUCH_SLOT, "parking is not available")
        async with self._lock(runtime.call.id):
            _still_live(runtime, channel.id)
            await self._drop_holds(runtime, channel.id)
            number = {c.id: c.number for c in runtime.call.channels()}[parker]
            return lot.park(runtime, channel, slot, number)

    async def _drop_holds(self, runtime: CallRuntime, kept: str) -> None:
        for held, holder in self._holds.pop(runtime.call.id, {}).items():
            if held == kept:  # the kept phone was told sendonly: resume it
                await self._bounded(runtime, held, holder, on_hold=False)
            else:  # the held party leaves: its endpoint stops playing music
                await runtime.media_apps.on_hold(holder, False)

    # -- mute --------------------------------------------------------------------------------

    async def mute(self, channel_list: str, *, muted: bool) -> str:
        """Mute (or unmute) every channel of a comma-separated list: all are checked
        first, so one unknown channel mutes none. Returns the first one's call id."""
        ids = [part.strip() for part in channel_list.split(",") if part.strip()]
        if not ids or len(ids) > MAX_CHANNELS:
            raise DomainError(MISSING_PARAMETER, f"one to {MAX_CHANNELS} channels")
        located = [self.locate(channel_id) for channel_id in ids]
        anchors = [_anchor_of(runtime, channel) for runtime, channel in located]
        for (runtime, channel), anchor in zip(located, anchors, strict=True):
            try:
                await self.engine.media.modify_endpoint(anchor.endpoint, muted=muted)
            except MediaError as exc:  # its endpoint went with the call
                _still_live(runtime, channel.id)
                raise DomainError(NO_SUCH_CHANNEL, "the media of the call has gone") from exc
        return located[0][0].call.id

    # -- housekeeping ------------------------------------------------------------------------

    def _lock(self, call_id: str) -> asyncio.Lock:
        for gone in [c for c in self._locks if c not in self.engine.calls]:
            if not self._locks[gone].locked():
                del self._locks[gone]
                self._holds.pop(gone, None)
        return self._locks.setdefault(call_id, asyncio.Lock())


def _side(runtime: CallRuntime, channel_id: str) -> tuple[Anchor, SipDialog]:
    caller = channel_id == runtime.caller_id
    anchor = runtime.a if caller else runtime.b
    dialog = runtime.dialog_a if caller else runtime.dialogs.get(channel_id)
    if anchor is None or dialog is None or dialog.ended:
        raise DomainError(NO_SUCH_CHANNEL, "the call has ended")
    return anchor, dialog


def _anchor_of(runtime: CallRuntime, channel: Channel) -> Anchor:
    """The endpoint of a channel: the caller's, or the callee's once it answered."""
    if channel.id == runtime.caller_id and runtime.a is not None:
        return runtime.a
    bridge = runtime.call.bridge
    if bridge is not None and bridge.b == channel.id and runtime.b is not None:
        return runtime.b
    raise DomainError(NOT_CONNECTED, "the member has not answered")


def _not_consulting(runtime: CallRuntime) -> None:
    """A call with an attended transfer in progress is moved only by that transfer."""
    if runtime.consultation is not None:
        raise DomainError(CONSULTING, "an attended transfer is in progress")


def _still_live(runtime: CallRuntime, channel_id: str) -> None:
    channels = {c.id: c for c in runtime.call.channels()}
    channel = channels.get(channel_id)
    if runtime.machine.ended or channel is None or not channel.live:
        raise DomainError(NO_SUCH_CHANNEL, f"{channel_id[:60]} has left the call")


CALL_CONTROL: Key[CallControl] = Key("call control")
