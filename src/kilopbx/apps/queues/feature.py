"""Queues feature: endpoints, number plan entry, extension clean-up, default queue."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBER_OWNERS, NUMBERS, NumberOwner
from kilopbx.apps.queues import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.queues.models import QueueAgent
from kilopbx.apps.queues.service import KIND, QUEUES, QUEUES_SERVICE, QueueService
from kilopbx.apps.queues.wire import QueueChanges
from kilopbx.apps.ring_groups.feature_support import (
    create_once,
    default_members,
)
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

DEFAULT_NUMBER = "6400"
DEFAULT_AGENTS = 4


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (EXTENSIONS, NUMBERS)
    provides: ClassVar[tuple[Need, ...]] = (QUEUES_SERVICE, NUMBER_OWNERS)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.service = pbx.registry.provide(
            QUEUES_SERVICE, QueueService(pbx.db, pbx.registry.get(NUMBERS))
        )

    async def start(self) -> None:
        self.pbx.registry.contribute(NUMBER_OWNERS, NumberOwner(KIND, QUEUES.holder))
        follow_extension_columns(self.pbx, QueueAgent.extension)
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        agents = await default_members(self.pbx, DEFAULT_NUMBER, DEFAULT_AGENTS)
        if agents is not None:
            changes = QueueChanges(settings={"ring_strategy": "rrmemory"}, agents=agents)
            await self.service.add(DEFAULT_NUMBER, "Support", changes)
