"""Queues feature: endpoints, number plan entry, extension clean-up, default queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps import numberplan
from kilopbx.apps.queues import endpoints as _endpoints  # noqa: F401 (registers)
from kilopbx.apps.queues.service import (
    KIND,
    QueueService,
    forget_extensions,
    queue_holder,
    renumber_extension,
)
from kilopbx.apps.queues.wire import QueueChanges
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.feature_support import (
    create_once,
    follow_extension_deletions,
    follow_extension_renumbers,
)
from kilopbx.apps.ring_groups.lookups import all_extension_numbers

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

DEFAULT_NUMBER = "6400"
DEFAULT_AGENTS = 4


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.service = QueueService(pbx.db)

    async def start(self) -> None:
        numberplan.register_owner(KIND, queue_holder)
        follow_extension_deletions(self.pbx, forget_extensions)
        follow_extension_renumbers(self.pbx, renumber_extension)
        await create_once(self.pbx, KIND, self._create_default)

    async def stop(self) -> None:
        pass

    async def _create_default(self) -> None:
        async with config_change(self.pbx.db) as db:
            if await numberplan.number_holder(db, DEFAULT_NUMBER) is not None:
                return
            agents = (await all_extension_numbers(db))[:DEFAULT_AGENTS]
        changes = QueueChanges(settings={"ring_strategy": "rrmemory"}, agents=agents)
        await self.service.add(DEFAULT_NUMBER, "Support", changes)
