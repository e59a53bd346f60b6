"""Extension groups feature: endpoints and the first-start default group."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extension_groups import endpoints  # noqa: F401
from kilopbx.apps.extension_groups.service import EXTENSION_GROUPS, ExtensionGroupService
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

DEFAULTS_FLAG = "extension_groups.defaults_created"
DEFAULT_GROUP_NAME = "All staff"


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS,)
    provides: ClassVar[tuple[Need, ...]] = (EXTENSION_GROUPS,)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(EXTENSION_GROUPS, ExtensionGroupService(pbx))

    async def start(self) -> None:
        await self._create_default_group()

    async def stop(self) -> None:
        pass

    async def _create_default_group(self) -> None:
        """First start only: one group holding the default extensions."""
        repo = self.pbx.settings_repo
        if await repo.get(DEFAULTS_FLAG) is not None:
            return
        if not await self.service.query(None):
            numbers = [ext.number for ext in await self.pbx.registry.get(EXTENSIONS).all()]
            await self.service.add(DEFAULT_GROUP_NAME, numbers)
        await repo.set(DEFAULTS_FLAG, "1")
