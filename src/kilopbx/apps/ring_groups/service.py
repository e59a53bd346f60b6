"""Ring groups: the only code that changes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.api.errors import ApiError
from kilopbx.apps.numberplan import ensure_number_free
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import changed_destination, config_change
from kilopbx.apps.ring_groups.destinations import Destination
from kilopbx.apps.ring_groups.lookups import missing_extensions
from kilopbx.apps.ring_groups.models import RingGroup, RingGroupMember
from kilopbx.apps.ring_groups.values import numeric_order, shown
from kilopbx.apps.ring_groups.wire import (
    INVALID_VALUE,
    NO_SUCH_EXTENSION,
    NUMBER_IN_USE,
    RING_GROUP_MISSING,
    RingGroupChanges,
)

KIND = "ringgroup"


@dataclass
class StoredRingGroup:
    group: RingGroup
    members: list[str]


async def ring_group_holder(db: AsyncSession, number: str) -> str | None:
    group = await db.get(RingGroup, number)
    return None if group is None else f'ring group "{group.name}" ({number})'


class RingGroupService:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def query(self, numbers: list[str] | None) -> list[StoredRingGroup]:
        """Groups in ascending number; `numbers` None means all, unknown ones skipped."""
        async with self._sessions() as db:
            statement = select(RingGroup)
            if numbers is not None:
                statement = statement.where(RingGroup.number.in_(numbers))
            groups = sorted(await db.scalars(statement), key=lambda g: numeric_order(g.number))
            return [StoredRingGroup(g, await _members(db, g.number)) for g in groups]

    async def ensure_exists(self, number: str) -> None:
        async with self._sessions() as db:
            if await db.get(RingGroup, number) is None:
                raise ApiError(RING_GROUP_MISSING, detail=f"no ring group {shown(number)}")

    async def add(self, number: str, changes: RingGroupChanges) -> None:
        async with config_change(self._sessions) as db:
            await ensure_number_free(db, number, NUMBER_IN_USE)
            group = RingGroup(
                number=number,
                name=changes.name or number,
                strategy="ringall",
                ring_timeout=30,
                failover_type=destinations.HANGUP,
                failover_dest="",
            )
            db.add(group)
            await db.flush()
            await self._apply(db, group, changes)

    async def update(self, number: str, changes: RingGroupChanges) -> None:
        async with config_change(self._sessions) as db:
            group = await db.get(RingGroup, number)
            if group is None:
                raise ApiError(RING_GROUP_MISSING, detail=f"no ring group {shown(number)}")
            await self._apply(db, group, changes)

    async def delete(self, numbers: list[str] | None) -> None:
        """All-or-nothing: an unknown number deletes nothing (10014)."""
        async with config_change(self._sessions) as db:
            existing = set(await db.scalars(select(RingGroup.number)))
            chosen = existing if numbers is None else set(numbers)
            unknown = sorted(chosen - existing)
            if unknown:
                raise ApiError(RING_GROUP_MISSING, detail=f"no ring group {shown(unknown[0])}")
            await destinations.ensure_unreferenced(
                db, destinations.RING_GROUP, chosen, INVALID_VALUE
            )
            await db.execute(delete(RingGroup).where(RingGroup.number.in_(chosen)))

    async def _apply(self, db: AsyncSession, group: RingGroup, changes: RingGroupChanges) -> None:
        if changes.name is not None:
            group.name = changes.name
        if changes.strategy is not None:
            group.strategy = changes.strategy
        if changes.ring_timeout is not None:
            group.ring_timeout = changes.ring_timeout
        own = Destination(destinations.RING_GROUP, group.number)
        failover = await changed_destination(
            db,
            Destination(group.failover_type, group.failover_dest),
            changes.failover_type,
            changes.failover_value,
            INVALID_VALUE,
            "failoverdest",
            own=own,
        )
        if failover is not None:
            group.failover_type, group.failover_dest = failover.kind, failover.value
        if changes.members is not None:
            unknown = await missing_extensions(db, changes.members)
            if unknown:
                raise ApiError(NO_SUCH_EXTENSION, detail=f"no extension {shown(unknown[0])}")
            await db.execute(
                delete(RingGroupMember).where(RingGroupMember.group_number == group.number)
            )
            db.add_all(
                RingGroupMember(group_number=group.number, extension=extension, position=index)
                for index, extension in enumerate(changes.members)
            )


async def _members(db: AsyncSession, number: str) -> list[str]:
    rows = await db.scalars(
        select(RingGroupMember.extension)
        .where(RingGroupMember.group_number == number)
        .order_by(RingGroupMember.position)
    )
    return list(rows)


async def forget_extensions(db: AsyncSession, numbers: list[str]) -> None:
    await db.execute(delete(RingGroupMember).where(RingGroupMember.extension.in_(numbers)))


async def renumber_extension(db: AsyncSession, old: str, new: str) -> None:
    await db.execute(
        update(RingGroupMember).where(RingGroupMember.extension == old).values(extension=new)
    )
