"""What the call engine asks the features while it routes a call.

The engine owns these interfaces and their answer types; features implement them and
publish the implementation in the registry (`kilopbx.core.registry`). So the engine
never imports a feature, and a feature can be replaced without touching call logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kilopbx.core.registry import Key, Point
from kilopbx.engine.directory import AccountDirectory


@dataclass(frozen=True)
class Destination:
    """Where an inbound route sends a call: `dest_type` as the routes spec names it."""

    route: str
    dest_type: str
    dest: str


@dataclass(frozen=True)
class OutboundChoice:
    """How an outbound call leaves: the trunks in failover order and the number sent."""

    route: str
    number: str  # what the trunk is sent
    trunks: tuple[str, ...]
    caller_id_number: str = ""  # "" = the DOD binding or the caller's own number
    caller_id_name: str = ""
    pin: str = ""  # "" = no PIN to ask for
    record: bool = False
    # False: a route matched the number but none permits this caller (403, CallFailed
    # "NO Outbound Restriction"); the other fields are then empty
    allowed: bool = True
    # the caller's DOD on each trunk of the route: (trunk, number, name)
    dod: tuple[tuple[str, str, str], ...] = ()

    def caller_id_on(self, trunk: str) -> tuple[str, str]:
        """The DOD (number, name) bound to the caller on ``trunk``, else the route's."""
        for name, number, shown in self.dod:
            if name == trunk:
                return number, shown
        return self.caller_id_number, self.caller_id_name


class CallRouting(Protocol):
    """Inbound and outbound routes, read at the moment of each call."""

    async def inbound(
        self, trunk: str, did: str, caller: str, epoch: float
    ) -> Destination | None: ...

    async def outbound(
        self, caller: str, caller_groups: frozenset[int], dialled: str
    ) -> OutboundChoice | None:
        """None: no route matches ``dialled``. ``caller_groups`` adds to the groups the
        routing itself knows the caller in."""
        ...

    async def outbound_through(self, routes: frozenset[str], dialled: str) -> OutboundChoice | None:
        """How a number keyed into an IVR that lets callers dial out leaves: the first
        outbound route named in ``routes`` (every route when empty) whose pattern
        matches ``dialled``. The IVR's setting is the permission, so no extension's
        applies; a route with a PIN is never used this way. None: none matches."""
        ...


class NumberPlan(Protocol):
    """Which kind of object a dialled number reaches ("extension", "queue", ...)."""

    async def number_kind(self, number: str) -> str | None: ...


class Contact(Protocol):
    """One place a registered extension can be reached."""

    @property
    def uri(self) -> str: ...
    @property
    def transport(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


class Registrations(Protocol):
    """Where extensions are registered from."""

    def contacts_for(self, number: str) -> Sequence[Contact]: ...

    def registered_ip(self, number: str) -> str | None: ...


class LineStatus(Protocol):
    """An extension's line as the API shows it: "Unavailable", "Registered", ..."""

    def __call__(self, number: str) -> str: ...


# wire statuses from least to most telling: the composed status is the highest any
# contributor reports, so the registrar's "Registered" gives way to a call's "Busy"
LINE_STATES = ("Unavailable", "Registered", "Hold", "Ringing", "Busy")

DIRECTORY: Key[AccountDirectory] = Key("extension directory")
CALL_ROUTING: Key[CallRouting] = Key("call routing")
NUMBER_PLAN: Key[NumberPlan] = Key("number plan")
REGISTRATIONS: Key[Registrations] = Key("registrations")
LINE_STATUS: Point[LineStatus] = Point("line status")


def compose_line_status(sources: Sequence[LineStatus], number: str) -> str:
    """The most telling status any source reports; "Unavailable" when none knows it."""
    best = 0
    for source in sources:
        status = source(number)
        rank = LINE_STATES.index(status) if status in LINE_STATES else 0
        best = max(best, rank)
    return LINE_STATES[best]
