"""The only place that changes outbound routes (31-routes.md) and their KiloPBX options."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.routes import route_options, validation
from kilopbx.apps.routes.inbound_service import redirect_inbound
from kilopbx.apps.routes.links import MAX_LIST_ITEMS, distinct_items, next_position, trunks_named
from kilopbx.apps.routes.models import (
    OutboundRoute,
    OutboundRouteExtension,
    OutboundRouteGroup,
    OutboundRouteTrunk,
)
from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.routes.route_table import RouteServiceBase, trunk_links
from kilopbx.apps.trunks.config_lock import config_transaction
from kilopbx.apps.trunks.options import apply_options
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key

ALL_EXTENSIONS = "all"


@dataclass
class OutboundInput:
    """Values of an add/update request; None: not sent."""

    name: str | None = None
    prefix: str | None = None
    strip: str | None = None
    prepend: str | None = None
    trunks: str | None = None
    extensions: str | None = None
    groups: str | None = None


class OutboundRouteService(RouteServiceBase):
    model = OutboundRoute
    unknown_reason = validation.OUTBOUND_UNKNOWN
    delete_failed_reason = validation.OUTBOUND_DELETE_FAILED
    too_many_reason = validation.TOO_MANY_OUTBOUND

    async def add(self, request: OutboundInput) -> OutboundRoute:
        route = OutboundRoute(prepend="", strip=None, all_extensions=False)
        async with config_transaction(self._sessions) as db:
            await self._apply(db, route, request)
            await self._check_room(db)
            await self._check_unique(db, route)
            route.position = await next_position(db, OutboundRoute.position)
            db.add(route)
        return route

    async def update(self, route_id: int | None, request: OutboundInput) -> None:
        async with config_transaction(self._sessions) as db:
            route = await self._locked(db, route_id)
            old_name = route.name
            await self._apply(db, route, request)
            await self._check_unique(db, route)
            if route.name != old_name:  # inbound routes that send calls here follow it
                await redirect_inbound(db, ["outroute"], [old_name], dest=route.name)

    async def update_options(self, route_id: int | None, values: dict[str, str]) -> None:
        """KiloPBX route options (outroute/update_options), keyed by wire name."""
        async with config_transaction(self._sessions) as db:
            route = await self._locked(db, route_id)
            apply_options(route, values, route_options.OPTIONS)

    async def forget_group(self, db: AsyncSession, group_id: int) -> None:
        """An extension group is being deleted (inside its transaction)."""
        await db.execute(delete(OutboundRouteGroup).where(OutboundRouteGroup.group_id == group_id))

    async def group_names(self, routes: list[OutboundRoute]) -> dict[int, str]:
        ids = {link.group_id for route in routes for link in route.group_links}
        if not ids:
            return {}
        async with self._sessions() as db:
            return await self._other.extension_group_names(db, ids)

    # -- helpers -----------------------------------------------------------------------------

    async def _apply(self, db: AsyncSession, route: OutboundRoute, request: OutboundInput) -> None:
        """Validate the fields sent, in the wire's errno order, and set them on `route`."""
        if request.name is not None:
            route.name = validation.route_name(request.name, validation.OUTBOUND_NAME_INVALID)
        if request.prefix is not None:
            if request.prefix.strip() == "":
                raise DomainError(MISSING_PARAMETER, "prefix must not be empty")
            compile_pattern(request.prefix.strip(), validation.PREFIX_INVALID)
            route.prefix = request.prefix.strip()
        longest_strip = compile_pattern(route.prefix, validation.PREFIX_INVALID).min_length
        if request.strip is not None:
            route.strip = validation.strip_count(request.strip, longest_strip)
        elif route.strip is not None and route.strip > longest_strip:
            raise DomainError(validation.STRIP_INVALID, "the stored strip is too long for it")
        if request.prepend is not None:
            route.prepend = validation.prepend(request.prepend)
        if request.trunks is not None:
            trunks = await trunks_named(db, request.trunks, validation.OUTBOUND_TRUNK_UNKNOWN)
            route.trunk_links = trunk_links(route.trunk_links, trunks, OutboundRouteTrunk)
        if request.extensions is not None:
            await self._set_extensions(db, route, request.extensions)
        if request.groups is not None:
            await self._set_groups(db, route, request.groups)

    async def _set_extensions(self, db: AsyncSession, route: OutboundRoute, text: str) -> None:
        if text.strip() == "":
            raise DomainError(MISSING_PARAMETER, "a route permits at least one extension")
        if text.strip().lower() == ALL_EXTENSIONS:
            route.all_extensions = True
            route.extension_links = []
            return
        numbers = distinct_items(text)
        if len(numbers) > MAX_LIST_ITEMS:
            raise DomainError(validation.EXTENSION_UNKNOWN, "too many extensions")
        for number in numbers:
            if len(number) > 32 or not await self._other.extension_exists(db, number):
                raise DomainError(validation.EXTENSION_UNKNOWN, f"no extension {number[:32]}")
        existing = {link.number: link for link in route.extension_links}
        links = []
        for position, number in enumerate(numbers):
            link = existing.get(number) or OutboundRouteExtension(number=number)
            link.position = position
            links.append(link)
        route.all_extensions = False
        route.extension_links = links

    async def _set_groups(self, db: AsyncSession, route: OutboundRoute, text: str) -> None:
        names = list(dict.fromkeys(item.strip() for item in text.split(",") if item.strip()))
        if len(names) > MAX_LIST_ITEMS:
            raise DomainError(validation.GROUP_UNKNOWN, "too many groups")
        group_ids = []
        for name in names:
            group_id = None if len(name) > 63 else await self._other.extension_group_id(db, name)
            if group_id is None:
                raise DomainError(validation.GROUP_UNKNOWN, f"no extension group {name[:63]}")
            group_ids.append(group_id)
        existing = {link.group_id: link for link in route.group_links}
        links = []
        for position, group_id in enumerate(dict.fromkeys(group_ids)):
            link = existing.get(group_id) or OutboundRouteGroup(group_id=group_id)
            link.position = position
            links.append(link)
        route.group_links = links

    async def _check_unique(self, db: AsyncSession, route: OutboundRoute) -> None:
        query = select(OutboundRoute.id).where(OutboundRoute.name == route.name)
        if route.id is not None:
            query = query.where(OutboundRoute.id != route.id)
        if (await db.execute(query.limit(1))).first() is not None:
            raise DomainError(validation.OUTBOUND_DUPLICATE, f"route name {route.name} is used")


OUTBOUND_ROUTES: Key[OutboundRouteService] = Key("outbound routes")
