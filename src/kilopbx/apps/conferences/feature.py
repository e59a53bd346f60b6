"""Conference rooms feature: endpoints, number plan entry, extension clean-up, default
room."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.conferences import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.conferences.models import ConferenceModerator
from kilopbx.apps.conferences.service import CONFERENCES, KIND, ROOMS, ConferenceService
from kilopbx.apps.conferences.wire import RoomChanges
from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBER_OWNERS, NUMBERS, NumberOwner
from kilopbx.apps.ring_groups.feature_support import (
    create_once,
    default_members,
)
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

DEFAULT_NUMBER = "6500"


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS, NUMBERS)
    provides: ClassVar[tuple[Need, ...]] = (CONFERENCES, NUMBER_OWNERS)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(
            CONFERENCES, ConferenceService(pbx.db, pbx.registry.get(NUMBERS))
        )

    async def start(self) -> None:
        self.pbx.registry.contribute(NUMBER_OWNERS, NumberOwner(KIND, ROOMS.holder))
        follow_extension_columns(self.pbx, ConferenceModerator.extension)
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        if await default_members(self.pbx, DEFAULT_NUMBER, 0) is not None:
            await self.service.add(DEFAULT_NUMBER, "Meeting Room", RoomChanges())
