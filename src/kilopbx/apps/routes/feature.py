"""Routes feature: inbound and outbound route services, endpoints, extension hooks."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from kilopbx.apps.routes import endpoints, extension_endpoints  # noqa: F401  (registers)
from kilopbx.apps.routes.call_routing import CallRouter
from kilopbx.apps.routes.inbound_service import InboundRouteService
from kilopbx.apps.routes.outbound_service import OutboundRouteService
from kilopbx.apps.timeconditions.service import TimeConditionService
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.wiring import watch_extension_groups, watch_extensions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kilopbx.pbx import Pbx

log = logging.getLogger(__name__)

# 31-routes.md proposes these limits
DEFAULT_MAX_INBOUND = 1000
DEFAULT_MAX_OUTBOUND = 500
TIME_CONDITIONS_FEATURE = "kilopbx.apps.timeconditions.feature"


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        other = OtherObjects(pbx.directory)
        max_inbound = int(os.environ.get("KILOPBX_MAX_INBOUND_ROUTES", DEFAULT_MAX_INBOUND))
        max_outbound = int(os.environ.get("KILOPBX_MAX_OUTBOUND_ROUTES", DEFAULT_MAX_OUTBOUND))
        self.inbound = InboundRouteService(pbx.db, other, max_routes=max_inbound)
        self.outbound = OutboundRouteService(pbx.db, other, max_routes=max_outbound)
        # for the call engine: reads the stored routes at each call
        self.call_router = CallRouter(pbx.db)

    @property
    def time_conditions(self) -> TimeConditionService:
        return self.pbx.features[TIME_CONDITIONS_FEATURE].service

    async def start(self) -> None:
        if not watch_extensions(self.pbx, self._extensions_deleted, self._extension_renumbered):
            log.warning("no extensions service: routes do not follow extension deletes")
        if not watch_extension_groups(self.pbx, self.outbound.forget_group):
            log.warning("no extension group service: route permissions keep deleted groups")

    async def _extensions_deleted(self, db: AsyncSession, numbers: list[str]) -> None:
        await self.outbound.forget_extensions(db, numbers)
        await self.inbound.forget_extensions(db, numbers)

    async def _extension_renumbered(self, db: AsyncSession, old: str, new: str) -> None:
        await self.outbound.renumber_extension(db, old, new)
        await self.inbound.renumber_extension(db, old, new)

    async def stop(self) -> None:
        pass
