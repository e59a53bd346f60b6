"""Extensions feature: endpoints, directory loading, the Pbx hooks, first-start defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps.extensions import endpoints, numberplan_endpoints  # noqa: F401
from kilopbx.apps.extensions.defaults import create_default_extensions
from kilopbx.apps.extensions.service import extension_service

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.service = extension_service(pbx)

    async def start(self) -> None:
        await self.service.load()
        self.pbx.count_extensions = self.service.count
        self.pbx.events.extension_monitored = self.service.is_monitored
        await create_default_extensions(self.pbx, self.service)

    async def stop(self) -> None:
        pass
