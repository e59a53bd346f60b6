"""Trunks feature: the trunk service, its endpoints, and its part in extension deletes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps.extension_groups.service import extension_group_service
from kilopbx.apps.extensions.service import extension_service
from kilopbx.apps.trunks import endpoints  # noqa: F401  (registers the trunk endpoints)
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.service import TrunkService

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.other_objects = OtherObjects(pbx.directory)
        max_trunks = pbx.settings.max_trunks
        self.service = TrunkService(pbx.db, pbx.bus, self.other_objects, max_trunks=max_trunks)

    async def start(self) -> None:
        extensions = extension_service(self.pbx)
        extensions.on_extensions_deleted(self.service.forget_extensions)
        extensions.on_extension_renumbered(self.service.renumber_extension)
        extension_group_service(self.pbx).on_group_deleted(self.service.forget_group)

    async def stop(self) -> None:
        pass
