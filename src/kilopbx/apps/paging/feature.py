"""Paging groups feature: endpoints, number plan entry, extension clean-up."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBER_OWNERS, NUMBERS, NumberOwner
from kilopbx.apps.paging import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.paging.models import PagingMember
from kilopbx.apps.paging.service import KIND, PAGING, PAGING_GROUPS, PagingService
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS, NUMBERS)
    provides: ClassVar[tuple[Need, ...]] = (PAGING, NUMBER_OWNERS)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(
            PAGING, PagingService(pbx.db, pbx.registry.get(NUMBERS))
        )

    async def start(self) -> None:
        self.pbx.registry.contribute(NUMBER_OWNERS, NumberOwner(KIND, PAGING_GROUPS.holder))
        follow_extension_columns(self.pbx, PagingMember.extension)

    async def stop(self) -> None:
        pass
