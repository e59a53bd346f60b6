"""What the call engine tells the features above it about calls, without importing them.

A feature that records or reports calls (the CDR service, call events) implements
``CallObserver`` and contributes it to ``CALL_OBSERVERS``; the engine calls every
observer at each step of every call. Observers must only queue work: they run inside
the engine's handling of a SIP message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kilopbx.core.registry import Point


@dataclass(frozen=True, slots=True)
class Member:
    """One leg of a call: ``role`` is "caller" or "callee", ``state`` a
    ``ChannelState`` value (ringing, early, up, held, ended)."""

    number: str
    channel_id: str
    role: str
    state: str
    trunk: str = ""  # an outside party's leg: the trunk it came or went through
    call_path: str = ""  # the IVR (queue, group...) number this member was reached through


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call as the engine sees it at one moment; times are wall-clock seconds."""

    call_id: str  # ours, also the id the API shows
    caller: str  # the calling extension
    caller_name: str
    dialled: str  # the number dialled
    callee: str  # the extension ringing or talking now ("" before routing)
    state: str  # "ringing", "answered", "ended"
    started_at: float
    answered_at: float | None = None
    ended_at: float | None = None
    disposition: str = ""  # once ended: ANSWERED, NO ANSWER, BUSY, FAILED
    cause: str = ""  # who or what ended it: caller, callee, cancel, rtp_timeout, ...
    sip_status: int = 0  # the final status the caller got when not answered
    codec_caller: str = ""
    codec_callee: str = ""
    members: tuple[Member, ...] = ()
    call_type: str = "Internal"  # "Inbound" or "Outbound" through a trunk
    source_trunk: str = ""
    destination_trunk: str = ""
    did: str = ""  # the number an inbound call was made to
    recording: str = ""  # the file name of the call's recording ("" when not recorded)

    @property
    def talk_seconds(self) -> float:
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.answered_at)


@dataclass(frozen=True, slots=True)
class Forwarding:
    """An extension's forwarding rule sent the call on: ``reason`` is "always",
    "busy" or "no_answer"."""

    from_number: str
    to_number: str
    reason: str


class CallObserver(Protocol):
    def call_ringing(self, call: CallRecord) -> None:
        """A target rings (the first, or one the call was forwarded to)."""
        ...

    def call_answered(self, call: CallRecord) -> None: ...

    def call_changed(self, call: CallRecord) -> None:
        """A member put the call on hold or resumed it (see the members' states)."""
        ...

    def call_forwarded(self, call: CallRecord, forward: Forwarding) -> None: ...

    def call_ended(self, call: CallRecord) -> None:
        """Once per call, last; also for an extension's call refused at the door."""
        ...


CALL_OBSERVERS: Point[CallObserver] = Point("call observers")
