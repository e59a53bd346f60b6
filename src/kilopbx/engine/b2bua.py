"""The B2BUA state machine of one call, sans IO: events in, actions out, time passed in.

The runtime (``kilopbx.engine.calls``) turns SIP and media happenings into events
(``BranchRinging``, ``BranchAnswered``, ``Bye``, ``TimerFired`` ...), feeds them to
``B2bua.handle(event, now)`` and performs the actions it gets back (ring or answer
the caller, cancel a branch, send a BYE, arm a timer). Nothing here sends a packet
or reads a clock, so every path of a call is a unit test.

A call rings every branch (one per registered contact of the callee) at once; the
first to answer wins and the others are cancelled (RFC 3261 §16.7 forking, done as a
B2BUA). When every branch has failed, or the ring timer fires, the machine reports
``Unreached``: the runtime may then ``retarget`` the call (forward on busy or no
answer) or ``give_up``, which rejects the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from kilopbx.engine.call_model import (
    RINGING_STATES,
    Bridge,
    Call,
    Channel,
    ChannelState,
    Disposition,
    Role,
)
from kilopbx.engine.call_moves import Park, Parked, Retarget, Ring, Splice, Spliced, Transfer

BUSY_STATUSES = frozenset({486, 600})
_DISPOSITIONS = {
    "busy": Disposition.BUSY,
    "dnd": Disposition.BUSY,
    "no_answer": Disposition.NO_ANSWER,
}
UNAVAILABLE_STATUSES = frozenset({408, 480, 503})

# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BranchRinging:
    branch: str
    status: int  # 180 or 183
    early_media: bool  # the provisional response carried SDP


@dataclass(frozen=True, slots=True)
class BranchAnswered:
    branch: str


@dataclass(frozen=True, slots=True)
class BranchFailed:
    branch: str
    status: int


@dataclass(frozen=True, slots=True)
class CallerCancelled:
    pass


@dataclass(frozen=True, slots=True)
class Bye:
    """A BYE from the phone on ``channel`` (caller or the answered branch)."""

    channel: str


@dataclass(frozen=True, slots=True)
class HoldChanged:
    channel: str
    held: bool


@dataclass(frozen=True, slots=True)
class TimerFired:
    kind: str  # "ring", "duration" or "session"


@dataclass(frozen=True, slots=True)
class Hangup:
    """The PBX ends the call: the API, RTP inactivity, a lost media worker."""

    cause: str
    status: int = 480  # what the caller hears when it was not answered yet


Event = (
    BranchRinging
    | BranchAnswered
    | BranchFailed
    | CallerCancelled
    | Bye
    | HoldChanged
    | TimerFired
    | Transfer
    | Park
    | Ring
    | Splice
    | Hangup
)

# -- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RingCaller:
    status: int
    early_media_from: str | None  # the branch whose SDP the caller gets, if any


@dataclass(frozen=True, slots=True)
class AnswerCaller:
    branch: str


@dataclass(frozen=True, slots=True)
class RejectCaller:
    status: int


@dataclass(frozen=True, slots=True)
class CancelBranch:
    branch: str


@dataclass(frozen=True, slots=True)
class SendBye:
    channel: str


@dataclass(frozen=True, slots=True)
class ArmTimer:
    kind: str
    at: float


@dataclass(frozen=True, slots=True)
class DisarmTimer:
    kind: str


@dataclass(frozen=True, slots=True)
class Unreached:
    """Nobody answered: ``reason`` is "busy", "dnd", "no_answer", "unavailable" or
    "failed". The runtime
    answers with ``retarget`` (forwarding) or ``give_up``."""

    reason: str
    status: int


@dataclass(frozen=True, slots=True)
class Finished:
    disposition: Disposition
    cause: str


Action = (
    RingCaller
    | AnswerCaller
    | RejectCaller
    | CancelBranch
    | SendBye
    | ArmTimer
    | DisarmTimer
    | Unreached
    | Retarget
    | Parked
    | Spliced
    | Finished
)


class B2bua:
    def __init__(
        self, call: Call, *, ring_timeout: float | None, max_duration: float | None = None
    ) -> None:
        self.call = call
        self.ring_timeout = ring_timeout
        self.max_duration = max_duration
        self._rang = False
        self._unreached = False
        self._failures: list[int] = []  # final statuses of the branches rung so far
        self._caller_connected = False  # a transferred caller talks before any answer

    @property
    def ended(self) -> bool:
        return self.call.disposition is not None

    @property
    def answered(self) -> bool:
        return self.call.bridge is not None

    def ring(
        self, branches: list[Channel], now: float, ring_timeout: float | None = None
    ) -> list[Action]:
        """Start (or, after ``retarget``, restart) ringing these callee channels, for
        ``ring_timeout`` seconds (default: the machine's)."""
        for channel in branches:
            self.call.branches[channel.id] = channel
        self._unreached = False
        timeout = ring_timeout or self.ring_timeout
        if timeout is None:
            return []
        return [ArmTimer("ring", now + timeout)]

    def retarget(
        self, branches: list[Channel], now: float, ring_timeout: float | None = None
    ) -> list[Action]:
        """Forwarding: ring other channels instead of the ones that failed."""
        if self.ended or self.answered:
            return []
        return self.ring(branches, now, ring_timeout)

    def unreachable(self, reason: str, status: int) -> list[Action]:
        """The target cannot ring at all (DND, not registered): as if every branch
        failed at once."""
        if self.ended or self.answered:
            return []
        self._unreached = True
        self._failures = []
        return [DisarmTimer("ring"), Unreached(reason, status)]

    def give_up(self, status: int, reason: str, now: float) -> list[Action]:
        if self.ended or self.answered:
            return []
        disposition = _DISPOSITIONS.get(reason, Disposition.FAILED)
        return [
            RejectCaller(status),
            *self._release_caller(),
            *self._finish(disposition, reason, now),
        ]

    def handle(self, event: Event, now: float) -> list[Action]:
        if self.ended:
            return self._late(event)
        match event:
            case BranchRinging():
                return self._ringing(event)
            case BranchAnswered(branch):
                return self._answered(branch, now)
            case BranchFailed(branch, status):
                return self._failed(branch, status, now)
            case CallerCancelled():
                return self._abandon("cancel", Disposition.NO_ANSWER, now, reject=None)
            case Bye(channel):
                return self._bye(channel, now)
            case HoldChanged(channel, held):
                self._hold(channel, held)
                return []
            case TimerFired("ring"):
                return self._ring_timeout()
            case TimerFired("duration"):
                return self._hangup("max_duration", 480, now)
            case TimerFired("session"):  # RFC 4028 §10: not refreshed in time
                return self._hangup("session_expired", 408, now)
            case TimerFired():
                return []
            case Transfer(keep, number, bye_released):
                return self._transfer(keep, number, bye_released)
            case Park(keep, bye_released):
                return self._park(keep, bye_released)
            case Splice(keep, joined, bye_released):
                return self._splice(keep, joined, bye_released, now)
            case Ring(number):
                if self.answered or not self._caller_connected:
                    return []
                self.call.caller.state = ChannelState.RINGING
                return [Retarget(number, False)]
            case Hangup(cause, status):
                return self._hangup(cause, status, now)

    # -- before the answer ---------------------------------------------------------------

    def _ringing(self, event: BranchRinging) -> list[Action]:
        channel = self.call.branches.get(event.branch)
        if channel is None or channel.state not in RINGING_STATES or self.answered:
            return []
        actions: list[Action] = []
        if event.early_media and channel.state is ChannelState.RINGING:
            channel.state = ChannelState.EARLY
            if not self._caller_connected:
                self.call.caller.state = ChannelState.EARLY
            actions.append(RingCaller(183, event.branch))
        elif not self._rang:
            actions.append(RingCaller(180, None))
        self._rang = True
        return actions

    def _answered(self, branch: str, now: float) -> list[Action]:
        channel = self.call.branches.get(branch)
        if channel is None:
            return []
        if self.answered or channel.state not in RINGING_STATES:
            channel.state = ChannelState.ENDED
            return [SendBye(branch)]  # a second contact answered too late
        channel.state = ChannelState.UP
        self.call.caller.state = ChannelState.UP
        self.call.bridge = Bridge(self.call.caller.id, branch)
        self._caller_connected = False
        if self.call.answered_at is None:  # a transfer's answer keeps the first one
            self.call.answered_at = now
        actions: list[Action] = [DisarmTimer("ring"), AnswerCaller(branch)]
        actions += self._cancel_pending()
        if self.max_duration:
            actions.append(ArmTimer("duration", now + self.max_duration))
        return actions

    def _failed(self, branch: str, status: int, now: float) -> list[Action]:
        channel = self.call.branches.get(branch)
        if channel is None or not channel.live:
            return []
        channel.state = ChannelState.ENDED
        if self.answered:
            return []
        self._failures.append(status)
        if self.call.pending_branches() or self._unreached:
            return []
        return self._report_unreached()

    def _report_unreached(self) -> list[Action]:
        self._unreached = True
        statuses, self._failures = self._failures, []
        if any(s in BUSY_STATUSES for s in statuses):
            return [DisarmTimer("ring"), Unreached("busy", 486)]
        if not statuses or all(s in UNAVAILABLE_STATUSES for s in statuses):
            return [DisarmTimer("ring"), Unreached("unavailable", 480)]
        # §16.7: the lowest class wins; 6xx were taken above as busy
        status = min(statuses, key=lambda s: (s // 100, s))
        return [DisarmTimer("ring"), Unreached("failed", status)]

    def _ring_timeout(self) -> list[Action]:
        if self.answered:
            return []
        self._unreached = True
        self._failures = []
        return [*self._cancel_pending(), Unreached("no_answer", 480)]

    def _cancel_pending(self) -> list[Action]:
        actions: list[Action] = []
        for channel in self.call.pending_branches():
            channel.state = ChannelState.ENDED
            actions.append(CancelBranch(channel.id))
        return actions

    # -- after the answer, and the end -----------------------------------------------------

    def _bye(self, channel_id: str, now: float) -> list[Action]:
        call = self.call
        if not self.answered:
            if channel_id == call.caller.id:  # a BYE in the early dialog: a hang-up
                return self._abandon("caller", Disposition.NO_ANSWER, now, reject=None)
            return self._failed(channel_id, 480, now)
        assert call.bridge is not None
        if channel_id not in (call.bridge.a, call.bridge.b):
            return []
        other = call.bridge.b if channel_id == call.bridge.a else call.bridge.a
        self._channel(channel_id).state = ChannelState.ENDED
        cause = "caller" if channel_id == call.caller.id else "callee"
        return [SendBye(other), *self._finish(Disposition.ANSWERED, cause, now)]

    def _hold(self, channel_id: str, held: bool) -> None:
        channel = self._channel(channel_id)
        if channel.talking:
            channel.state = ChannelState.HELD if held else ChannelState.UP

    def _hangup(self, cause: str, status: int, now: float) -> list[Action]:
        if not self.answered:
            return self._abandon(cause, Disposition.FAILED, now, reject=status)
        assert self.call.bridge is not None
        actions: list[Action] = [SendBye(self.call.bridge.a), SendBye(self.call.bridge.b)]
        # a caller whose ACK could not complete the media never talked
        disposition = Disposition.FAILED if cause == "bad_sdp" else Disposition.ANSWERED
        return [*actions, *self._finish(disposition, cause, now)]

    def _abandon(
        self, cause: str, disposition: Disposition, now: float, *, reject: int | None
    ) -> list[Action]:
        actions: list[Action] = [DisarmTimer("ring"), *self._cancel_pending()]
        if reject is not None:
            actions.append(RejectCaller(reject))
        return [*actions, *self._release_caller(), *self._finish(disposition, cause, now)]

    def _release_caller(self) -> list[Action]:
        """A transferred caller talks already: it gets a BYE, not a final response."""
        return [SendBye(self.call.caller.id)] if self._caller_connected else []

    def _transfer(self, keep: str, number: str, bye_released: bool) -> list[Action]:
        detached = self._detach(keep)
        if detached is None:
            return []
        release, swapped = detached
        actions: list[Action] = [SendBye(release)] if bye_released else []
        disarm: list[Action] = [DisarmTimer("duration"), DisarmTimer("session")]
        return [*actions, *(disarm if swapped else disarm[:1]), Retarget(number, swapped)]

    def _park(self, keep: str, bye_released: bool) -> list[Action]:
        detached = self._detach(keep)
        if detached is None:
            return []
        release, swapped = detached
        self.call.caller.state = ChannelState.HELD  # HOLD while parked
        disarm: list[Action] = [DisarmTimer("duration"), DisarmTimer("session")]
        actions: list[Action] = [SendBye(release)] if bye_released else []
        return [*actions, *(disarm if swapped else disarm[:1]), Parked(swapped)]

    def _splice(self, keep: str, joined: str, bye_released: bool, now: float) -> list[Action]:
        channel = self.call.branches.get(joined)
        if channel is None or channel.state not in RINGING_STATES or joined == keep:
            return []
        detached = self._detach(keep)
        if detached is None:
            return []
        release, swapped = detached
        actions: list[Action] = [SendBye(release)] if bye_released else []
        disarm: list[Action] = [DisarmTimer("duration"), DisarmTimer("session")]
        actions += [*(disarm if swapped else disarm[:1]), Spliced(joined, release, swapped)]
        return actions + self._answered(joined, now)

    def _detach(self, keep: str) -> tuple[str, bool] | None:
        """Release ``keep``'s peer in the bridge; ``keep`` becomes the calling side of
        what comes next. Returns the released channel and whether roles swapped."""
        call = self.call
        bridge = call.bridge
        if bridge is None or keep not in (bridge.a, bridge.b):
            return None
        release = bridge.b if keep == bridge.a else bridge.a
        released, kept = self._channel(release), self._channel(keep)
        released.state = ChannelState.ENDED
        swapped = keep != call.caller.id
        if swapped:  # the callee stays: it becomes the calling side of the new leg
            del call.branches[keep]
            call.branches[release] = call.caller  # listed, ended, for line and events
            call.caller = kept
            kept.role = Role.CALLER
        kept.state = ChannelState.RINGING  # ALERT while the target rings
        call.bridge = None
        self._caller_connected = True
        self._rang = True  # the kept party hears no new 180: it has its answer
        self._unreached = False
        self._failures = []
        return release, swapped

    def _finish(self, disposition: Disposition, cause: str, now: float) -> list[Action]:
        call = self.call
        if call.answered_at is not None and self._caller_connected:
            # answered, then transferred or parked: still answered
            disposition = Disposition.ANSWERED
        call.disposition = disposition
        call.cause = cause
        call.ended_at = now
        for channel in call.channels():
            channel.state = ChannelState.ENDED
        disarm = [DisarmTimer(kind) for kind in ("ring", "duration", "session")]
        return [*disarm, Finished(disposition, cause)]

    def _late(self, event: Event) -> list[Action]:
        """After the end only a late answer needs something: it gets a BYE."""
        if isinstance(event, BranchAnswered) and event.branch in self.call.branches:
            return [SendBye(event.branch)]
        return []

    def _channel(self, channel_id: str) -> Channel:
        if channel_id == self.call.caller.id:
            return self.call.caller
        return self.call.branches[channel_id]


def new_call(
    call_id: str, caller: str, dialled: str, now: float, channel_id: str | None = None
) -> Call:
    channel = Channel(channel_id or f"{call_id}-a", Role.CALLER, caller)
    return Call(call_id, channel, dialled, now)


def new_branch(call: Call, number: str, index: int, channel_id: str | None = None) -> Channel:
    return Channel(channel_id or f"{call.id}-b{index}", Role.CALLEE, number)
