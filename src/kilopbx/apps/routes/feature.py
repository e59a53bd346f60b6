"""Routes feature: inbound and outbound route services, endpoints, extension hooks, and
the call engine's `CALL_ROUTING`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.extension_groups.service import EXTENSION_GROUPS
from kilopbx.apps.extensions.references import follow_extension_columns
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBERS
from kilopbx.apps.routes import endpoints, extension_endpoints  # noqa: F401  (registers)
from kilopbx.apps.routes.call_routing import CallRouter
from kilopbx.apps.routes.inbound_service import INBOUND_ROUTES, InboundRouteService
from kilopbx.apps.routes.models import OutboundRouteExtension
from kilopbx.apps.routes.outbound_service import OUTBOUND_ROUTES, OutboundRouteService
from kilopbx.apps.timeconditions.service import TIME_CONDITIONS
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.core.registry import Need
from kilopbx.engine.routing import CALL_ROUTING, DIRECTORY

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    # the hours endpoints read time conditions
    needs: ClassVar[tuple[Need, ...]] = (
        DIRECTORY,
        NUMBERS,
        EXTENSIONS,
        EXTENSION_GROUPS,
        TIME_CONDITIONS,
    )
    provides: ClassVar[tuple[Need, ...]] = (INBOUND_ROUTES, OUTBOUND_ROUTES, CALL_ROUTING)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        registry = pbx.registry
        other = OtherObjects(registry.get(DIRECTORY), registry.get(NUMBERS))
        limits = pbx.settings
        self.inbound = registry.provide(
            INBOUND_ROUTES,
            InboundRouteService(pbx.db, other, max_routes=limits.max_inbound_routes),
        )
        self.outbound = registry.provide(
            OUTBOUND_ROUTES,
            OutboundRouteService(pbx.db, other, max_routes=limits.max_outbound_routes),
        )
        # for the call engine: reads the stored routes at each call
        registry.provide(CALL_ROUTING, CallRouter(pbx.db))

    async def start(self) -> None:
        # outbound permissions go with a deleted extension; inbound routes to it hang up
        follow_extension_columns(self.pbx, OutboundRouteExtension.number)
        extensions = self.pbx.registry.get(EXTENSIONS)
        extensions.on_extensions_deleted(self.inbound.forget_extensions)
        extensions.on_extension_renumbered(self.inbound.renumber_extension)
        self.pbx.registry.get(EXTENSION_GROUPS).on_group_deleted(self.outbound.forget_group)

    async def stop(self) -> None:
        pass
