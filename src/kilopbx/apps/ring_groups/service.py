"""Ring groups: the only code that changes them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups.config_store import change_destination, config_change
from kilopbx.apps.ring_groups.destinations import Destination
from kilopbx.apps.ring_groups.lookups import missing_extensions
from kilopbx.apps.ring_groups.models import RingGroup, RingGroupMember
from kilopbx.apps.ring_groups.numbered import (
    NumberedObjects,
    NumberedService,
    ordered_extensions,
    replace_extensions,
)
from kilopbx.apps.ring_groups.values import shown
from kilopbx.apps.ring_groups.wire import (
    INVALID_VALUE,
    NO_SUCH_EXTENSION,
    NUMBER_IN_USE,
    RING_GROUP_MISSING,
    RingGroupChanges,
)
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key

KIND = "ringgroup"
RING_GROUPS = NumberedObjects(
    RingGroup,
    "ring group",
    RING_GROUP_MISSING,
    destination_kind=destinations.RING_GROUP,
    in_use_reason=INVALID_VALUE,
)


@dataclass
class StoredRingGroup:
    group: RingGroup
    members: list[str]


class RingGroupService(NumberedService):
    objects = RING_GROUPS

    async def query(self, numbers: list[str] | None) -> list[StoredRingGroup]:
        """Groups in ascending number; `numbers` None means all, unknown ones skipped."""
        async with self._sessions() as db:
            groups = await RING_GROUPS.rows(db, numbers)
            return [StoredRingGroup(g, await _members(db, g.number)) for g in groups]

    async def add(self, number: str, changes: RingGroupChanges) -> None:
        async with config_change(self._sessions) as db:
            group = await RING_GROUPS.insert(
                db,
                RingGroup(
                    number=number,
                    name=changes.name or number,
                    strategy="ringall",
                    ring_timeout=30,
                    failover_type=destinations.HANGUP,
                    failover_dest="",
                ),
                NUMBER_IN_USE,
                self._numbers,
            )
            await self._apply(db, group, changes)

    async def update(self, number: str, changes: RingGroupChanges) -> None:
        async with config_change(self._sessions) as db:
            group = await RING_GROUPS.get(db, number)
            await self._apply(db, group, changes)

    async def _apply(self, db: AsyncSession, group: RingGroup, changes: RingGroupChanges) -> None:
        if changes.name is not None:
            group.name = changes.name
        if changes.strategy is not None:
            group.strategy = changes.strategy
        if changes.ring_timeout is not None:
            group.ring_timeout = changes.ring_timeout
        own = Destination(destinations.RING_GROUP, group.number)
        await change_destination(
            db,
            group,
            ("failover_type", "failover_dest"),
            changes.failover_type,
            changes.failover_value,
            INVALID_VALUE,
            "failoverdest",
            own=own,
        )
        if changes.members is not None:
            unknown = await missing_extensions(db, changes.members)
            if unknown:
                raise DomainError(NO_SUCH_EXTENSION, detail=f"no extension {shown(unknown[0])}")
            await replace_extensions(
                db, RingGroupMember.group_number, group.number, changes.members
            )


async def _members(db: AsyncSession, number: str) -> list[str]:
    return await ordered_extensions(db, RingGroupMember.group_number, number)


RING_GROUP_SERVICE: Key[RingGroupService] = Key("ring groups")
