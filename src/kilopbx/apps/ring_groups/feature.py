"""Ring groups feature: endpoints, number plan entry, extension clean-up, default group."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBER_OWNERS, NUMBERS, NumberOwner
from kilopbx.apps.ring_groups import destinations
from kilopbx.apps.ring_groups import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.ring_groups.feature_support import create_once, default_members
from kilopbx.apps.ring_groups.models import RingGroupMember
from kilopbx.apps.ring_groups.route_references import inbound_routes_pointing_at
from kilopbx.apps.ring_groups.service import KIND, RING_GROUP_SERVICE, RING_GROUPS, RingGroupService
from kilopbx.apps.ring_groups.wire import RingGroupChanges
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

DEFAULT_NUMBER = "6300"
DEFAULT_MEMBERS = 4


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS, NUMBERS)
    provides: ClassVar[tuple[Need, ...]] = (RING_GROUP_SERVICE, NUMBER_OWNERS)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(
            RING_GROUP_SERVICE, RingGroupService(pbx.db, pbx.registry.get(NUMBERS))
        )

    async def start(self) -> None:
        self.pbx.registry.contribute(NUMBER_OWNERS, NumberOwner(KIND, RING_GROUPS.holder))
        destinations.register_referrer(inbound_routes_pointing_at)
        follow_extension_columns(self.pbx, RingGroupMember.extension)
        # IVR, queue and ring-group destinations (this package keeps their vocabulary)
        extensions = self.pbx.registry.get(EXTENSIONS)
        extensions.on_extensions_deleted(destinations.release_extensions)
        extensions.on_extension_renumbered(destinations.renumber_extension)
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        members = await default_members(self.pbx, DEFAULT_NUMBER, DEFAULT_MEMBERS)
        if members is not None:
            changes = RingGroupChanges(name="Reception", members=members)
            await self.service.add(DEFAULT_NUMBER, changes)
