"""Ring groups feature: endpoints, number plan entry, extension clean-up, default group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps import numberplan
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.feature_support import (
    create_once,
    follow_extension_deletions,
    follow_extension_renumbers,
)
from kilopbx.apps.ring_groups.lookups import all_extension_numbers
from kilopbx.apps.ring_groups.route_references import inbound_routes_pointing_at
from kilopbx.apps.ring_groups.service import (
    KIND,
    RingGroupService,
    forget_extensions,
    renumber_extension,
    ring_group_holder,
)
from kilopbx.apps.ring_groups.wire import RingGroupChanges

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kilopbx.pbx import Pbx

DEFAULT_NUMBER = "6300"
DEFAULT_MEMBERS = 4


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.service = RingGroupService(pbx.db)

    async def start(self) -> None:
        numberplan.register_owner(KIND, ring_group_holder)
        destinations.register_referrer(inbound_routes_pointing_at)
        follow_extension_deletions(self.pbx, _extensions_deleted)
        follow_extension_renumbers(self.pbx, _extension_renumbered)
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        async with config_change(self.pbx.db) as db:
            if await numberplan.number_holder(db, DEFAULT_NUMBER) is not None:
                return
            members = (await all_extension_numbers(db))[:DEFAULT_MEMBERS]
        changes = RingGroupChanges(name="Reception", members=members)
        await self.service.add(DEFAULT_NUMBER, changes)


async def _extensions_deleted(db: AsyncSession, numbers: list[str]) -> None:
    await forget_extensions(db, numbers)
    await destinations.release_extensions(db, numbers)


async def _extension_renumbered(db: AsyncSession, old: str, new: str) -> None:
    await renumber_extension(db, old, new)
    await destinations.renumber_extension(db, old, new)
