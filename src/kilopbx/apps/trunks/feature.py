"""Trunks feature: the trunk service, its endpoints, its part in extension deletes, and
the call engine's `TRUNK_LINES` (for now `StaticTrunkLines`: trunks at IP addresses)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extension_groups.service import EXTENSION_GROUPS
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBERS
from kilopbx.apps.trunks import endpoints  # noqa: F401  (registers the trunk endpoints)
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.service import TRUNKS, TrunkService
from kilopbx.apps.trunks.static_lines import StaticTrunkLines
from kilopbx.core.registry import Need
from kilopbx.engine.routing import DIRECTORY
from kilopbx.engine.trunking import TRUNK_LINES
from kilopbx.store import table_changes

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (DIRECTORY, NUMBERS, EXTENSIONS, EXTENSION_GROUPS)
    provides: ClassVar[tuple[Need, ...]] = (TRUNKS, TRUNK_LINES)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.other_objects = OtherObjects(pbx.registry.get(DIRECTORY), pbx.registry.get(NUMBERS))
        max_trunks = pbx.settings.max_trunks
        service = TrunkService(pbx.db, pbx.bus, self.other_objects, max_trunks=max_trunks)
        self.service = pbx.registry.provide(TRUNKS, service)
        self.lines = StaticTrunkLines(pbx.db)
        self._unwatch = table_changes.on_change(self.lines.changed)

    async def start(self) -> None:
        extensions = self.pbx.registry.get(EXTENSIONS)
        extensions.on_extensions_deleted(self.service.forget_extensions)
        extensions.on_extension_renumbered(self.service.renumber_extension)
        self.pbx.registry.get(EXTENSION_GROUPS).on_group_deleted(self.service.forget_group)
        await self.lines.refresh()
        self.pbx.registry.provide(TRUNK_LINES, self.lines)

    async def stop(self) -> None:
        self._unwatch()
