"""Time conditions feature: business hours used by inbound routes."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.timeconditions import endpoints  # noqa: F401  (registers the endpoints)
from kilopbx.apps.timeconditions.service import TIME_CONDITIONS, TimeConditionService
from kilopbx.core.registry import Need

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = ()
    provides: ClassVar[tuple[Need, ...]] = (TIME_CONDITIONS,)

    def __init__(self, pbx: Host) -> None:
        limit = pbx.settings.max_time_conditions
        service = TimeConditionService(pbx.db, pbx.clock, max_conditions=limit)
        self.service = pbx.registry.provide(TIME_CONDITIONS, service)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
