"""Extensions feature: the extension service, the directory the registrar and the call
engine read, the number plan, first-start defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extensions import endpoints, numberplan_endpoints  # noqa: F401
from kilopbx.apps.extensions.defaults import create_default_extensions
from kilopbx.apps.extensions.service import (
    EXTENSIONS,
    NUMBER_KIND,
    ExtensionService,
    extension_holder,
)
from kilopbx.apps.numberplan import NUMBER_OWNERS, NUMBERS, NumberOwner, NumberPlan
from kilopbx.core.registry import Need
from kilopbx.engine.directory import AccountDirectory
from kilopbx.engine.routing import DIRECTORY, NUMBER_PLAN

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (
        EXTENSIONS,
        DIRECTORY,
        NUMBERS,
        NUMBER_PLAN,
        NUMBER_OWNERS,
    )

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        registry = pbx.registry
        directory = registry.provide(DIRECTORY, AccountDirectory())
        numbers = registry.provide(NUMBERS, NumberPlan(registry, pbx.db))
        registry.provide(NUMBER_PLAN, numbers)
        registry.contribute(NUMBER_OWNERS, NumberOwner(NUMBER_KIND, extension_holder))
        self.service = registry.provide(EXTENSIONS, ExtensionService(pbx, directory, numbers))

    async def start(self) -> None:
        await self.service.load()
        await create_default_extensions(self.pbx, self.service)

    async def stop(self) -> None:
        pass
