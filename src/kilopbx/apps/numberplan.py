"""One dialling namespace for every numbered PBX object.

Extensions, IVRs, queues, ring groups, conference rooms, paging groups and the feature
codes below all live in the same number space: a number dialled on a phone must lead to
exactly one thing. Each object kind registers a lookup that says who (if anyone) of its
kind holds a number; before a service creates or renumbers an object it calls
`ensure_number_free`, which asks every registered kind and the feature codes.

Two services of different kinds could each find a number free and then both commit it.
Hold `number_plan_lock()` from the check to the commit to rule that out; the lock is
process-wide, which is enough for one PBX process (one event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.one_per import OnePer
from kilopbx.core.errors import DomainError

# the holder of `number` in a human-readable form, e.g. 'queue "Sales" (6400)', or None
NumberOwner = Callable[[AsyncSession, str], Awaitable[str | None]]

FEATURE_CODE_KIND = "feature code"

# Dialled from a phone; reserved, so no object may take one of these as its number.
FEATURE_CODES: dict[str, str] = {
    "*97": "voicemail",  # own mailbox
    "*98": "voicemail of another extension",
    "*72": "call forward always on",
    "*73": "call forward always off",
    "*90": "call forward busy on",
    "*91": "call forward busy off",
    "*92": "call forward no answer on",
    "*93": "call forward no answer off",
    "*78": "do not disturb on",
    "*79": "do not disturb off",
    "*8": "group call pickup",
    "**": "directed call pickup (followed by the extension number)",
    "*70": "call park",
    "*71": "call park retrieve",
    "*65": "speak own extension number",
    "*60": "wake-up call",
    "*11": "queue agent log in",
    "*12": "queue agent log out",
    "*43": "echo test",
}

_owners: dict[str, NumberOwner] = {}
_locks: OnePer[asyncio.AbstractEventLoop, asyncio.Lock] = OnePer(lambda _loop: asyncio.Lock())


def register_owner(kind: str, lookup: NumberOwner) -> None:
    """Let `kind` (e.g. "queue") take part in the namespace. Registering again replaces
    the earlier lookup, so a feature restarted in the same process stays registered once."""
    if kind == FEATURE_CODE_KIND:
        raise ValueError(f"{kind!r} is reserved for the PBX's feature codes")
    _owners[kind] = lookup


def registered_kinds() -> list[str]:
    return list(_owners)


def feature_code_holder(number: str) -> str | None:
    name = FEATURE_CODES.get(number)
    return None if name is None else f'{FEATURE_CODE_KIND} "{name}" ({number})'


async def _find_holder(
    db: AsyncSession, number: str, ignore_kind: str | None, ignore_number: str | None
) -> tuple[str, str] | None:
    """(kind, holder) of `number`, or None when it is free."""
    number = number.strip()
    holder = feature_code_holder(number)
    if holder is not None:
        return FEATURE_CODE_KIND, holder
    for kind, lookup in list(_owners.items()):
        if kind == ignore_kind and (ignore_number is None or number == ignore_number):
            continue
        holder = await lookup(db, number)
        if holder is not None:
            return kind, holder
    return None


async def number_holder(
    db: AsyncSession,
    number: str,
    *,
    ignore_kind: str | None = None,
    ignore_number: str | None = None,
) -> str | None:
    """Who holds `number`, or None when it is free.

    `ignore_kind` with `ignore_number`: the object of that kind currently at
    `ignore_number` does not count (an object keeping or changing its own number).
    `ignore_kind` alone: that kind is not asked at all (the caller checks it itself).
    """
    found = await _find_holder(db, number, ignore_kind, ignore_number)
    return None if found is None else found[1]


async def number_kind(db: AsyncSession, number: str) -> str | None:
    """The kind that holds `number` (as registered, e.g. "queue", or
    `FEATURE_CODE_KIND`), or None when it is free."""
    found = await _find_holder(db, number, None, None)
    return None if found is None else found[0]


async def ensure_number_free(
    db: AsyncSession,
    number: str,
    reason: str,
    *,
    ignore_kind: str | None = None,
    ignore_number: str | None = None,
) -> None:
    """Raise DomainError(reason) naming the holder when `number` is taken."""
    holder = await number_holder(db, number, ignore_kind=ignore_kind, ignore_number=ignore_number)
    if holder is not None:
        raise DomainError(reason, detail=f"number {number} is used by {holder}")


def number_plan_lock() -> asyncio.Lock:
    """Process-wide lock (one per event loop) to hold from `ensure_number_free` until
    the commit."""
    return _locks(asyncio.get_running_loop())


class NumberPlanLookup:
    """The number plan as the call engine asks it (`kilopbx.engine.routing.NumberPlan`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def number_kind(self, number: str) -> str | None:
        async with self._sessions() as db:
            return await number_kind(db, number)
