"""``call/listen`` and ``call/add_member`` (spec 70 §4 and §6): the checks and the
choice of call; ``kilopbx.engine.call_members`` rings the new member in and mixes.

Listen: the supervisor (``monitor``) joins the call in which ``extension`` talks
(``ANSWER``/``ANSWERED``, not held) in one of the modes of
``kilopbx.engine.conference_hearing``. The monitored extension must allow being
monitored and the monitor's own setting must cover the mode. The monitor's phone is
rung with the usual auto-answer hints. One monitor per monitored extension: the same
monitor asking again with another mode switches the mode of its live listen.

Add member: the member on ``channelid`` invites one more extension into its answered
call; the others keep talking while it rings, and when it answers everyone hears
everyone. A number that is no extension is called outside, through the outbound
route the inviter may use (``CallMembers.invite_outside``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.call_attended import CONSULTING
from kilopbx.engine.call_members import NOT_IDLE
from kilopbx.engine.call_model import Channel, ChannelState
from kilopbx.engine.call_transfer import NOT_CONNECTED
from kilopbx.engine.calls import NO_SUCH_CALLEE, NO_SUCH_CHANNEL
from kilopbx.engine.conference_hearing import MODES, Monitoring, covers
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.trunk_calls import outside_number, route_for_member

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

NO_SUCH_EXTENSION = "calls.no_such_extension"  # monitor or monitored: no such extension
NOT_MONITORABLE = "calls.not_monitorable"  # the extension may not be monitored
MODE_NOT_PERMITTED = "calls.monitor_mode"  # the monitor's setting does not cover the mode
BLANK_NUMBER = "calls.blank_number"
MAX_NUMBER = 32


class CallSupervision:
    def __init__(self, engine: CallEngine) -> None:
        self.engine = engine

    # -- call/listen -------------------------------------------------------------------------

    async def listen(self, monitor: str, extension: str, mode: str) -> str:
        """Attach ``monitor`` to the call ``extension`` talks in; returns its call id."""
        if mode not in MODES:
            raise DomainError(MISSING_PARAMETER, f"type is one of {', '.join(MODES)}")
        watcher = self._extension(monitor)
        watched = self._extension(extension)
        if not watched.calls.may_be_monitored:
            raise DomainError(NOT_MONITORABLE, f"extension {extension} may not be monitored")
        if not covers(watcher.calls.monitor_mode, mode):
            raise DomainError(MODE_NOT_PERMITTED, f"{monitor} may not {mode}")
        runtime, agent = self._talking(extension)
        _not_consulting(runtime)
        members = runtime.members
        async with members.lock:
            _still_talking(runtime, agent)
            attached = members.monitor_of(agent.id)
            if attached is not None:
                if attached.channel.number != monitor:
                    raise DomainError(NOT_IDLE, f"{extension} has a monitor already")
                await members.set_mode(attached, Monitoring(mode, agent.id))
                return runtime.call.id
            if monitor == extension or self.engine.line_status(monitor) in ("Busy", "Ringing"):
                raise DomainError(NOT_IDLE, f"extension {monitor} is not idle")
            contacts = self.engine.registrations.contacts_for(monitor)
            if not contacts or watcher.calls.do_not_disturb:
                raise DomainError(NOT_IDLE, f"extension {monitor} cannot take a call")
            await members.invite(
                watcher, contacts, shown=extension, monitoring=Monitoring(mode, agent.id),
                auto_answer=True,
            )  # fmt: skip
        return runtime.call.id

    def _extension(self, number: str) -> SipAccount:
        account = self.engine.directory.by_number(number.strip())
        if account is None:
            raise DomainError(NO_SUCH_EXTENSION, f"no extension {number[:MAX_NUMBER]}")
        return account

    def _talking(self, number: str) -> tuple[CallRuntime, Channel]:
        """The call in which ``number`` talks (not held, not ringing), and its channel."""
        for runtime in self.engine.calls.values():
            if runtime.machine.ended:
                continue
            for channel, _ in runtime.members.parties():
                if channel.number == number and channel.state is ChannelState.UP:
                    return runtime, channel
        raise DomainError(NO_SUCH_CHANNEL, f"extension {number[:MAX_NUMBER]} talks in no call")

    # -- call/add_member ---------------------------------------------------------------------

    async def add_member(self, channel_id: str, number: str, permission: str | None = None) -> str:
        """The party on ``channel_id`` invites extension ``number``; returns the call id."""
        number = number.strip()
        if not number:
            raise DomainError(BLANK_NUMBER, "the number is blank")
        runtime, inviter = self._party(channel_id)
        _not_consulting(runtime)
        if len(number) > MAX_NUMBER:
            raise DomainError(NO_SUCH_CALLEE, f"no extension {number[:MAX_NUMBER]}")
        if outside_number(self.engine, number):
            return await self._add_outside(runtime, inviter, number, permission)
        account = self.engine.directory.by_number(number)
        if account is None:
            raise DomainError(NO_SUCH_CALLEE, f"no extension {number[:MAX_NUMBER]}")
        members = runtime.members
        async with members.lock:
            _still_talking(runtime, inviter)
            present = {c.number for c in runtime.call.channels() if c.live}
            if number in present:
                raise DomainError(NOT_IDLE, f"{number} is in the call already")
            contacts = self.engine.registrations.contacts_for(number)
            if not contacts or account.calls.do_not_disturb:
                raise DomainError(NOT_IDLE, f"extension {number} cannot take a call")
            waiting = account.calls.call_waiting
            if waiting is None:
                waiting = self.engine.call_waiting
            if not waiting and self.engine.line_status(number) == "Busy":
                raise DomainError(NOT_IDLE, f"extension {number} is busy")
            await members.invite(account, contacts, shown=inviter.number)
        return runtime.call.id

    async def _add_outside(
        self, runtime: CallRuntime, inviter: Channel, number: str, permission: str | None
    ) -> str:
        """``number`` is no extension: it is called through the outbound route the
        inviter (an extension) may use, with the inviter's caller ID."""
        account, choice = await route_for_member(self.engine, inviter, number, permission)
        members = runtime.members
        async with members.lock:
            _still_talking(runtime, inviter)
            if any(c.number == choice.number and c.live for c in runtime.call.channels()):
                raise DomainError(NOT_IDLE, f"{number} is in the call already")
            await members.invite_outside(account, choice)
        return runtime.call.id

    def _party(self, channel_id: str) -> tuple[CallRuntime, Channel]:
        """The answered call and talking party ``channel_id`` names: 10007 for no live
        channel, 10015 for one that rings, is held, or only monitors."""
        for runtime in self.engine.calls.values():
            if runtime.machine.ended:
                continue
            for channel in runtime.call.channels():
                if channel.id != channel_id or not channel.live:
                    continue
                for party, _ in runtime.members.parties():
                    if party is channel and party.state is ChannelState.UP:
                        return runtime, party
                raise DomainError(NOT_CONNECTED, "the member is not talking in the call")
        raise DomainError(NO_SUCH_CHANNEL, f"no live channel {channel_id[:60]}")


def _not_consulting(runtime: CallRuntime) -> None:
    """An attended transfer's consultation owns the call's media until it ends."""
    if runtime.consultation is not None:
        raise DomainError(CONSULTING, "an attended transfer is in progress")


def _still_talking(runtime: CallRuntime, channel: Channel) -> None:
    if runtime.machine.ended or not channel.live:
        raise DomainError(NO_SUCH_CHANNEL, "the call has ended")


CALL_SUPERVISION: Key[CallSupervision] = Key("call supervision")
