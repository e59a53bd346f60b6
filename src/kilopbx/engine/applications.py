"""Applications a call can be handed to: the PBX answers the caller itself and a
feature (an IVR, later voicemail, a queue's announcements...) drives the call.

The engine owns this interface so that it never imports a feature. A feature
contributes a `CallApplication` to `CALL_APPLICATIONS`: its `kind` (the destination
type of the routes vocabulary, e.g. "ivr") and `owns(number)`. When a phone dials a
number no extension has, or an inbound route sends a call to `dest_type`/`dest`, the
engine answers the caller and calls `run(channel, number)`; the application plays
prompts and reads keys through the `AppChannel` it is given and returns where the
call goes next: `Connect` (ring an extension, or enter whatever application owns
the number), `Enter` (another application of a given kind), `DialOut` (a number
outside, through an outbound route) or `Release` (hang up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kilopbx.core.registry import Point
from kilopbx.engine.routing import OutboundChoice
from kilopbx.events.call_model import CallMember


@dataclass(frozen=True, slots=True)
class Connect:
    """Ring extension ``number`` (or enter the application that owns it)."""

    number: str
    call_path: str = ""  # the application's number, for events (`callpath`)


@dataclass(frozen=True, slots=True)
class Enter:
    """Hand the call to the application of ``kind`` that owns ``number``."""

    kind: str
    number: str


@dataclass(frozen=True, slots=True)
class DialOut:
    """Call ``number`` outside, as ``choice`` (the outbound route the application
    chose, `CallRouting.outbound_through`) says."""

    number: str
    choice: OutboundChoice


@dataclass(frozen=True, slots=True)
class Release:
    """Hang up (``cause`` for the logs: "hangup", "timeout", "invalid", ...)."""

    cause: str


Outcome = Connect | Enter | DialOut | Release


@dataclass(frozen=True, slots=True)
class Recorded:
    """How a recording on an application call ended: ``why`` is "max_length",
    "silence", "key", "hangup" or "failed"; ``seconds`` of audio written."""

    seconds: float
    why: str


class AppChannel(Protocol):
    """The caller's leg as an application drives it (the PBX has answered it)."""

    @property
    def call_id(self) -> str: ...

    @property
    def hung_up(self) -> bool:
        """The caller has gone: stop and return."""
        ...

    def member(self, call_path: str) -> CallMember:
        """The caller as events show it, with ``callpath`` set."""
        ...

    @property
    def unreached(self) -> str:
        """Why the call came to the application instead of its extension: "busy",
        "dnd", "no_answer", "unavailable" or "forward_always" (that extension's
        forwarding); "" when the number itself was called (dialled, a route, a key)."""
        ...

    async def play(self, prompt: str) -> bool:
        """Play ``prompt`` (a prompt name) to the caller and return when it ends: True
        when it played to the end, False when a key or a hang-up cut it short, or it
        cannot be played (then it is skipped)."""
        ...

    async def next_digit(self, timeout: float | None) -> str | None:
        """The next key the caller presses (RFC 4733, SIP INFO or in band, whichever
        its phone uses), or None after ``timeout`` seconds or a hang-up. Keys pressed
        while a prompt played are kept, in order."""
        ...

    async def record(
        self, path: str, *, max_seconds: float, silence_seconds: float, stop_key: str = "#"
    ) -> Recorded:
        """Record what the caller says into a new WAV at ``path`` until ``max_seconds``,
        ``silence_seconds`` of silence, the ``stop_key`` or a hang-up."""
        ...

    def pending_digits(self) -> int:
        """Keys received and not read yet."""
        ...

    def clear_digits(self) -> None: ...


class CallApplication(Protocol):
    @property
    def kind(self) -> str: ...

    async def owns(self, number: str) -> bool: ...

    async def run(self, channel: AppChannel, number: str) -> Outcome: ...


CALL_APPLICATIONS: Point[CallApplication] = Point("call applications")


async def application_for(
    applications: Sequence[CallApplication], number: str, kind: str | None = None
) -> CallApplication | None:
    """The application that owns ``number`` (of ``kind``, when given)."""
    for application in applications:
        if kind is not None and application.kind != kind:
            continue
        if await application.owns(number):
            return application
    return None
