"""Extension groups feature: endpoints and the first-start default group."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps.extension_groups import endpoints  # noqa: F401
from kilopbx.apps.extension_groups.service import extension_group_service
from kilopbx.apps.extensions.service import extension_service

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

DEFAULTS_FLAG = "extension_groups.defaults_created"
DEFAULT_GROUP_NAME = "All staff"


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.service = extension_group_service(pbx)

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
            numbers = [ext.number for ext in await extension_service(self.pbx).all()]
            await self.service.add(DEFAULT_GROUP_NAME, numbers)
        await repo.set(DEFAULTS_FLAG, "1")
