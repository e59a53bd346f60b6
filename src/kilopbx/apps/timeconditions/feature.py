"""Time conditions feature: business hours used by inbound routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps.timeconditions import endpoints  # noqa: F401  (registers the endpoints)
from kilopbx.apps.timeconditions.service import TimeConditionService

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        limit = pbx.settings.max_time_conditions
        self.service = TimeConditionService(pbx.db, pbx.clock, max_conditions=limit)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
