"""Where a call can be sent: the destination vocabulary shared by IVR keys, IVR
timeout/invalid-input handling, queue failover/breakout and ring-group failover.

Internally a destination is a (type, value) pair with the lower-case type names of the
inbound-route vocabulary (spec 31-routes.md); queues show them with their own spellings
("Ring Group", "Hang up", ...) at the edge. This module checks that a destination
exists, finds who points at an object (so it is not deleted from under them), and
redirects destinations when an extension goes away.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.conferences.models import ConferenceRoom
from kilopbx.apps.ivr.models import Ivr, IvrKey
from kilopbx.apps.queues.models import Queue
from kilopbx.apps.ring_groups.lookups import extension_exists
from kilopbx.apps.ring_groups.models import RingGroup
from kilopbx.apps.ring_groups.values import invalid, parse_number
from kilopbx.core.errors import DomainError

HANGUP = "hangup"
EXTENSION = "extension"
VOICEMAIL = "voicemail"
IVR = "ivr"
RING_GROUP = "ringgroup"
QUEUE = "queue"
CONFERENCE = "conference"
FAX_TO_EMAIL = "faxtoemail"
DIAL_BY_NAME = "dialbyname"

# the types whose value is an extension number
EXTENSION_TYPES = frozenset({EXTENSION, VOICEMAIL, FAX_TO_EMAIL})
# the types without a value
VALUELESS_TYPES = frozenset({HANGUP, DIAL_BY_NAME})
# what IVRs and ring groups accept (the inbound-route vocabulary our objects can serve)
ROUTE_TYPES = (HANGUP, EXTENSION, VOICEMAIL, IVR, RING_GROUP, QUEUE, CONFERENCE, FAX_TO_EMAIL)

_GROUP_TABLES: dict[str, type[Ivr] | type[Queue] | type[RingGroup] | type[ConferenceRoom]] = {
    IVR: Ivr,
    QUEUE: Queue,
    RING_GROUP: RingGroup,
    CONFERENCE: ConferenceRoom,
}
KIND_LABELS = {
    IVR: "IVR",
    QUEUE: "queue",
    RING_GROUP: "ring group",
    CONFERENCE: "conference room",
}


@dataclass(frozen=True)
class Destination:
    kind: str
    value: str = ""


HANGUP_DESTINATION = Destination(HANGUP)

# another feature (e.g. inbound routes) saying who of theirs points at (type, number)
ReferrerLookup = Callable[[AsyncSession, str, str], Awaitable[list[str]]]
_referrer_lookups: list[ReferrerLookup] = []


def register_referrer(lookup: ReferrerLookup) -> None:
    """Let another feature veto deleting a group object its configuration points at."""
    if lookup not in _referrer_lookups:
        _referrer_lookups.append(lookup)


def parse_route_type(text: str, reason: str, field: str) -> str:
    lowered = text.strip().lower()
    if lowered not in ROUTE_TYPES:
        raise invalid(reason, field, text, f"must be one of {', '.join(ROUTE_TYPES)}")
    return lowered


async def check_destination(
    db: AsyncSession,
    kind: str,
    value: str | None,
    reason: str,
    field: str,
    *,
    own: Destination | None = None,
) -> Destination:
    """The destination with its value checked: the extension or group object must exist.
    `own` is the object being configured, which must not fail over to itself."""
    if kind in VALUELESS_TYPES:
        return Destination(kind)
    if value is None or not value.strip():
        raise invalid(reason, field, value or "", f"a {kind} destination needs a number")
    number = parse_number(value, reason, field)
    if own is not None and own == Destination(kind, number):
        raise invalid(reason, field, number, "an object cannot be its own destination")
    if kind in EXTENSION_TYPES:
        if not await extension_exists(db, number):
            raise invalid(reason, field, number, "no such extension")
    elif await db.get(_GROUP_TABLES[kind], number) is None:
        raise invalid(reason, field, number, f"no such {KIND_LABELS[kind]}")
    return Destination(kind, number)


async def referrers(db: AsyncSession, kind: str, number: str) -> list[tuple[str, str, str]]:
    """Who points at the `kind` object `number`: (referrer kind, referrer number, text)."""
    found: list[tuple[str, str, str]] = []
    ivrs = await db.scalars(
        select(Ivr).where(
            ((Ivr.timeout_dest_type == kind) & (Ivr.timeout_dest == number))
            | ((Ivr.invalid_dest_type == kind) & (Ivr.invalid_dest == number))
        )
    )
    found += [(IVR, ivr.number, f'IVR "{ivr.name}" ({ivr.number})') for ivr in ivrs]
    keys = await db.scalars(select(IvrKey).where(IvrKey.dest_type == kind, IvrKey.dest == number))
    found += [(IVR, key.ivr_number, f"key {key.key} of IVR {key.ivr_number}") for key in keys]
    queues = await db.scalars(
        select(Queue).where(
            ((Queue.failover_type == kind) & (Queue.failover_dest == number))
            | ((Queue.breakout_type == kind) & (Queue.breakout_dest == number))
        )
    )
    found += [(QUEUE, q.number, f'queue "{q.name}" ({q.number})') for q in queues]
    groups = await db.scalars(
        select(RingGroup).where(RingGroup.failover_type == kind, RingGroup.failover_dest == number)
    )
    found += [(RING_GROUP, g.number, f'ring group "{g.name}" ({g.number})') for g in groups]
    for lookup in _referrer_lookups:
        found += [("", "", text) for text in await lookup(db, kind, number)]
    return found


async def ensure_unreferenced(
    db: AsyncSession, kind: str, numbers: Iterable[str], reason: str
) -> None:
    """Refuse deleting objects something else still points at. References from objects
    of the same kind deleted in the same request do not count."""
    going = set(numbers)
    for number in sorted(going):
        for referrer_kind, referrer_number, text in await referrers(db, kind, number):
            if referrer_kind == kind and referrer_number in going:
                continue
            label = KIND_LABELS[kind]
            raise DomainError(reason, detail=f"{label} {number} is still the destination of {text}")


# every (type column, value column) pair that holds a destination
_DESTINATION_COLUMNS = (
    (Ivr, Ivr.timeout_dest_type, Ivr.timeout_dest),
    (Ivr, Ivr.invalid_dest_type, Ivr.invalid_dest),
    (IvrKey, IvrKey.dest_type, IvrKey.dest),
    (Queue, Queue.failover_type, Queue.failover_dest),
    (Queue, Queue.breakout_type, Queue.breakout_dest),
    (RingGroup, RingGroup.failover_type, RingGroup.failover_dest),
)


async def release_extensions(db: AsyncSession, numbers: list[str]) -> None:
    """Extensions were deleted: destinations that led to them now hang up; IVR keys that
    led to them are unmapped (the IVR then treats the key as invalid input)."""
    for table, type_column, value_column in _DESTINATION_COLUMNS:
        leads_there = (type_column.in_(EXTENSION_TYPES), value_column.in_(numbers))
        if table is IvrKey:
            await db.execute(delete(IvrKey).where(*leads_there))
        else:
            await db.execute(
                update(table)
                .where(*leads_there)
                .values({type_column.key: HANGUP, value_column.key: ""})
            )


async def renumber_extension(db: AsyncSession, old: str, new: str) -> None:
    """An extension got a new number: destinations that led to it follow it."""
    for table, type_column, value_column in _DESTINATION_COLUMNS:
        await db.execute(
            update(table)
            .where(type_column.in_(EXTENSION_TYPES), value_column == old)
            .values({value_column.key: new})
        )
