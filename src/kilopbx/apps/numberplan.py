"""One dialling namespace for every numbered PBX object.

Extensions, IVRs, queues, ring groups, conference rooms, paging groups and the feature
codes below all live in the same number space: a number dialled on a phone must lead to
exactly one thing. Each feature with numbered objects contributes a `NumberOwner` to
the `NUMBER_OWNERS` point (its kind and a lookup that says who of that kind holds a
number); the `NumberPlan` (registry key `NUMBERS`, provided by the extensions feature)
asks every owner and the feature codes. Before a service creates or renumbers an
object it calls `NumberPlan.ensure_free`.

Two services of different kinds could each find a number free and then both commit it.
Hold `number_plan_lock()` from the check to the commit to rule that out; the lock is
process-wide, which is enough for one PBX process (one event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.one_per import OnePer
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key, Point, Registry

# the holder of `number` in a human-readable form, e.g. 'queue "Sales" (6400)', or None
HolderLookup = Callable[[AsyncSession, str], Awaitable[str | None]]

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

_locks: OnePer[asyncio.AbstractEventLoop, asyncio.Lock] = OnePer(lambda _loop: asyncio.Lock())


@dataclass(frozen=True)
class NumberOwner:
    """A kind of numbered object (e.g. "queue") and who of that kind holds a number."""

    kind: str
    holder: HolderLookup


NUMBER_OWNERS: Point[NumberOwner] = Point("number owners")


def feature_code_holder(number: str) -> str | None:
    name = FEATURE_CODES.get(number)
    return None if name is None else f'{FEATURE_CODE_KIND} "{name}" ({number})'


class NumberPlan:
    """The number plan composed from every `NUMBER_OWNERS` contribution, read at each
    lookup, so an owner that starts later takes part as soon as it contributed. Also the
    call engine's `kilopbx.engine.routing.NumberPlan`."""

    def __init__(self, registry: Registry, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._registry = registry
        self._sessions = sessions

    def owners(self) -> list[NumberOwner]:
        owners = self._registry.contributions(NUMBER_OWNERS)
        kinds = [owner.kind for owner in owners]
        if FEATURE_CODE_KIND in kinds:
            raise ValueError(f"{FEATURE_CODE_KIND!r} is reserved for the PBX's feature codes")
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"a kind has two number owners: {sorted(kinds)}")
        return owners

    def kinds(self) -> list[str]:
        return [owner.kind for owner in self.owners()]

    async def _find(
        self, db: AsyncSession, number: str, ignore_kind: str | None, ignore_number: str | None
    ) -> tuple[str, str] | None:
        """(kind, holder) of `number`, or None when it is free."""
        number = number.strip()
        holder = feature_code_holder(number)
        if holder is not None:
            return FEATURE_CODE_KIND, holder
        for owner in self.owners():
            if owner.kind == ignore_kind and (ignore_number is None or number == ignore_number):
                continue
            holder = await owner.holder(db, number)
            if holder is not None:
                return owner.kind, holder
        return None

    async def holder(
        self,
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
        found = await self._find(db, number, ignore_kind, ignore_number)
        return None if found is None else found[1]

    async def kind_of(self, db: AsyncSession, number: str) -> str | None:
        """The kind that holds `number` (as contributed, e.g. "queue", or
        `FEATURE_CODE_KIND`), or None when it is free."""
        found = await self._find(db, number, None, None)
        return None if found is None else found[0]

    async def ensure_free(
        self,
        db: AsyncSession,
        number: str,
        reason: str,
        *,
        ignore_kind: str | None = None,
        ignore_number: str | None = None,
    ) -> None:
        """Raise DomainError(reason) naming the holder when `number` is taken."""
        holder = await self.holder(db, number, ignore_kind=ignore_kind, ignore_number=ignore_number)
        if holder is not None:
            raise DomainError(reason, detail=f"number {number} is used by {holder}")

    async def number_kind(self, number: str) -> str | None:
        async with self._sessions() as db:
            return await self.kind_of(db, number)


NUMBERS: Key[NumberPlan] = Key("number plan of the features")


def number_plan_lock() -> asyncio.Lock:
    """Process-wide lock (one per event loop) to hold from `NumberPlan.ensure_free`
    until the commit."""
    return _locks(asyncio.get_running_loop())
