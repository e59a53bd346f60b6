"""The call engine's nouns: calls, channels and bridges, plain data with no I/O.

A *channel* is one SIP leg of a call (the caller's, or one per callee contact while
it rings) with its own media endpoint; a *bridge* joins two channels' media. A call
owns its channels and at most one bridge. Keeping channels apart from the call is
what later lets one be held, parked, recorded, whispered to, queued, transferred or
mixed into a conference without the other leg noticing: only the bridge changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum


class ChannelState(Enum):
    RINGING = "ringing"  # INVITE out (callee) or in (caller), no answer yet
    EARLY = "early"  # early media flowing
    UP = "up"
    HELD = "held"  # the phone put the other side on hold
    ENDED = "ended"


class Role(Enum):
    CALLER = "caller"
    CALLEE = "callee"


class Disposition(Enum):
    """How a call ended, in the terms a CDR uses."""

    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"


@dataclass(slots=True)
class Channel:
    id: str
    role: Role
    number: str  # the extension (or remote number) on this leg
    state: ChannelState = ChannelState.RINGING
    trunk: str = ""  # the trunk this leg goes through ("" for an extension's leg)

    @property
    def live(self) -> bool:
        return self.state is not ChannelState.ENDED

    @property
    def talking(self) -> bool:
        return self.state in (ChannelState.UP, ChannelState.HELD)


@dataclass(frozen=True, slots=True)
class Bridge:
    """Two channels whose media the worker relays to each other."""

    a: str
    b: str


@dataclass(slots=True)
class Call:
    id: str
    caller: Channel
    callee_number: str  # what was dialled
    created_at: float
    branches: dict[str, Channel] = field(default_factory=dict)  # callee channels by id
    # parties added to the live call (call/add_member) and supervisors (call/listen),
    # by channel id; outside the two-party machine (``kilopbx.engine.call_members``)
    extras: dict[str, Channel] = field(default_factory=dict)
    bridge: Bridge | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    disposition: Disposition | None = None
    cause: str = ""  # who or what ended it: "caller", "callee", "cancel", "rtp_timeout"...

    @property
    def answered_by(self) -> Channel | None:
        if self.bridge is None:
            return None
        return self.branches.get(self.bridge.b)

    def channels(self) -> list[Channel]:
        return [self.caller, *self.branches.values(), *self.extras.values()]

    def pending_branches(self) -> list[Channel]:
        return [c for c in self.branches.values() if c.state in RINGING_STATES]


RINGING_STATES = (ChannelState.RINGING, ChannelState.EARLY)


def line_status(calls: Iterable[Call], number: str) -> str | None:
    """What extension ``number``'s line shows because of these calls: "Busy" while it
    places a call or talks, "Ringing" while one rings it, None when it is free."""
    status = None
    for call in calls:
        if call.disposition is not None:
            continue
        if number == call.caller.number and call.caller.live:
            return "Busy"
        for channel in (*call.branches.values(), *call.extras.values()):
            if channel.number != number:
                continue
            if channel.talking:
                return "Busy"
            if channel.live:
                status = "Ringing"
    return status
