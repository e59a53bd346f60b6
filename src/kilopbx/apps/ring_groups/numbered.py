"""What the numbered group objects (IVRs, queues, ring groups, conference rooms, paging
groups) do alike: name their holder in the number plan, read rows by number in numeric
order, find one or answer their "no such object" reason, delete all or nothing (refusing
objects that are still a destination), select objects from a request's number list, and
keep ordered extension lists (members, moderators).

Each feature describes its table once, e.g.
`ROOMS = NumberedObjects(ConferenceRoom, "conference room", ROOM_MISSING)`, and keeps
its own settings logic.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from kilopbx.apps.numberplan import NumberPlan
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.values import numeric_order, parse_selector, shown
from kilopbx.core.errors import DomainError

T = TypeVar("T")


class _Numbered(Protocol):
    number: str


N = TypeVar("N", bound=_Numbered)


@dataclass(frozen=True)
class NumberedObjects:
    model: Any  # a mapped class whose primary key is `number` and that has a `name`
    label: str  # as people read it: "ring group", "IVR", "conference room", ...
    missing_reason: str  # the feature's "no such object" reason
    # the destination type of such objects, when other objects can send calls to them:
    # deleting one that is still a destination is refused with `in_use_reason`
    destination_kind: str | None = None
    in_use_reason: str = ""

    async def holder(self, db: AsyncSession, number: str) -> str | None:
        """Number-plan lookup: 'queue "Support" (6400)' or None."""
        row = await db.get(self.model, number)
        return None if row is None else f'{self.label} "{row.name}" ({number})'

    async def rows(self, db: AsyncSession, numbers: list[str] | None) -> list[Any]:
        """Rows in ascending number; `numbers` None means all, unknown ones are skipped."""
        statement = select(self.model)
        if numbers is not None:
            statement = statement.where(self.model.number.in_(numbers))
        return sorted(await db.scalars(statement), key=lambda row: numeric_order(row.number))

    async def insert(self, db: AsyncSession, row: N, in_use_reason: str, numbers: NumberPlan) -> N:
        """Store a new object; its number must be free in the whole number plan."""
        await numbers.ensure_free(db, row.number, in_use_reason)
        db.add(row)
        await db.flush()
        return row

    async def get(self, db: AsyncSession, number: str) -> Any:
        row = await db.get(self.model, number)
        if row is None:
            raise DomainError(self.missing_reason, detail=f"no {self.label} {shown(number)}")
        return row

    async def ensure_exists(self, sessions: async_sessionmaker[Any], number: str) -> None:
        async with sessions() as db:
            await self.get(db, number)

    async def delete(self, db: AsyncSession, numbers: list[str] | None) -> None:
        """All or nothing: an unknown number deletes nothing, nor does one that is still
        a destination of another object."""
        existing = set(await db.scalars(select(self.model.number)))
        chosen = existing if numbers is None else set(numbers)
        unknown = sorted(chosen - existing)
        if unknown:
            raise DomainError(self.missing_reason, detail=f"no {self.label} {shown(unknown[0])}")
        if self.destination_kind is not None:
            await destinations.ensure_unreferenced(
                db, self.destination_kind, chosen, self.in_use_reason
            )
        await db.execute(delete(self.model).where(self.model.number.in_(chosen)))

    # -- request selections ---------------------------------------------------------------

    def chosen(self, text: str) -> list[str] | None:
        """A selector ("all" or numbers) that must name at least one well-formed number."""
        numbers = parse_selector(text, self.missing_reason)
        if numbers == []:
            raise DomainError(self.missing_reason, detail=f"no such {self.label}")
        return numbers

    async def selected(
        self, query: Callable[[list[str] | None], Awaitable[list[T]]], text: str
    ) -> list[T]:
        """`query` for a selector; a list of numbers that finds nothing is refused."""
        numbers = parse_selector(text, self.missing_reason)
        found = await query(numbers)
        if numbers is not None and not found:
            raise DomainError(self.missing_reason, detail=f"no such {self.label}")
        return found


class NumberedService:
    """The part of a group feature's service that is the same for every kind: the
    existence check endpoints make before they read a change, and delete."""

    objects: ClassVar[NumberedObjects]

    def __init__(self, sessions: async_sessionmaker[Any], numbers: NumberPlan) -> None:
        self._sessions = sessions
        self._numbers = numbers

    async def ensure_exists(self, number: str) -> None:
        await self.objects.ensure_exists(self._sessions, number)

    async def delete(self, numbers: list[str] | None) -> None:
        """All or nothing (see `NumberedObjects.delete`); None deletes every object."""
        async with config_change(self._sessions) as db:
            await self.objects.delete(db, numbers)


class Updatable(Protocol):
    async def ensure_exists(self, number: str) -> None: ...

    async def update(self, number: str, changes: Any) -> None: ...


async def update_existing(service: Updatable, number: str, read_changes: Callable[[], Any]) -> None:
    """An update request: the object must exist before the request's values are read,
    so a missing object answers its own reason rather than a bad value's."""
    await service.ensure_exists(number)
    await service.update(number, read_changes())


# -- ordered extension lists: rows (owner column, extension, position) ---------------------


async def ordered_extensions(
    db: AsyncSession, owner: InstrumentedAttribute[str], number: str
) -> list[str]:
    """The extensions listed for the object `number`, in their order."""
    table = owner.class_
    rows = await db.scalars(select(table.extension).where(owner == number).order_by(table.position))
    return list(rows)


async def replace_extensions(
    db: AsyncSession, owner: InstrumentedAttribute[str], number: str, extensions: list[str]
) -> None:
    """Store `extensions` as the object's list, in this order."""
    table: Any = owner.class_  # the mapped class (never an alias here)
    await db.execute(delete(table).where(owner == number))
    db.add_all(
        table(**{owner.key: number, "extension": extension, "position": index})
        for index, extension in enumerate(extensions)
    )
