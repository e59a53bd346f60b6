"""Conference rooms feature: endpoints, number plan entry, extension clean-up, default
room."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps import numberplan
from kilopbx.apps.conferences import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.conferences.service import (
    KIND,
    ConferenceService,
    forget_extensions,
    renumber_extension,
    room_holder,
)
from kilopbx.apps.conferences.wire import RoomChanges
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.feature_support import (
    create_once,
    follow_extension_deletions,
    follow_extension_renumbers,
)

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

DEFAULT_NUMBER = "6500"


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.service = ConferenceService(pbx.db)

    async def start(self) -> None:
        numberplan.register_owner(KIND, room_holder)
        follow_extension_deletions(self.pbx, forget_extensions)
        follow_extension_renumbers(self.pbx, renumber_extension)
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        async with config_change(self.pbx.db) as db:
            if await numberplan.number_holder(db, DEFAULT_NUMBER) is not None:
                return
        await self.service.add(DEFAULT_NUMBER, "Meeting Room", RoomChanges())
