"""Routes feature: inbound and outbound route services, endpoints, extension hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.apps.extension_groups.service import extension_group_service
from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import extension_service
from kilopbx.apps.routes import endpoints, extension_endpoints  # noqa: F401  (registers)
from kilopbx.apps.routes.call_routing import CallRouter
from kilopbx.apps.routes.inbound_service import InboundRouteService
from kilopbx.apps.routes.models import OutboundRouteExtension
from kilopbx.apps.routes.outbound_service import OutboundRouteService
from kilopbx.apps.timeconditions.service import TimeConditionService
from kilopbx.apps.trunks.other_objects import OtherObjects

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

TIME_CONDITIONS_FEATURE = "kilopbx.apps.timeconditions.feature"


class Feature:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        other = OtherObjects(pbx.directory)
        limits = pbx.settings
        self.inbound = InboundRouteService(pbx.db, other, max_routes=limits.max_inbound_routes)
        self.outbound = OutboundRouteService(pbx.db, other, max_routes=limits.max_outbound_routes)
        # for the call engine: reads the stored routes at each call
        self.call_router = CallRouter(pbx.db)

    @property
    def time_conditions(self) -> TimeConditionService:
        return self.pbx.features[TIME_CONDITIONS_FEATURE].service

    async def start(self) -> None:
        # outbound permissions go with a deleted extension; inbound routes to it hang up
        follow_extension_columns(self.pbx, OutboundRouteExtension.number)
        extensions = extension_service(self.pbx)
        extensions.on_extensions_deleted(self.inbound.forget_extensions)
        extensions.on_extension_renumbered(self.inbound.renumber_extension)
        extension_group_service(self.pbx).on_group_deleted(self.outbound.forget_group)

    async def stop(self) -> None:
        pass
