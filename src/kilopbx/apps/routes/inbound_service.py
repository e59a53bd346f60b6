"""The only place that changes inbound routes (31-routes.md) and their business hours."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.routes import validation
from kilopbx.apps.routes.destinations import EXTENSION_VALUED, checked_destination
from kilopbx.apps.routes.links import next_position, trunks_named
from kilopbx.apps.routes.models import InboundRoute, InboundRouteTrunk
from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.routes.route_table import RouteServiceBase, trunk_links
from kilopbx.apps.timeconditions.service import locked_condition
from kilopbx.apps.trunks.config_lock import config_transaction
from kilopbx.apps.trunks.wire_lists import parse_single_id
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key


@dataclass
class InboundInput:
    """Values of an add/update request; None: not sent."""

    name: str | None = None
    did: str | None = None
    caller: str | None = None
    trunks: str | None = None
    dest_type: str | None = None
    dest: str | None = None


class InboundRouteService(RouteServiceBase):
    model = InboundRoute
    unknown_reason = validation.INBOUND_UNKNOWN
    delete_failed_reason = validation.INBOUND_DELETE_FAILED
    too_many_reason = validation.TOO_MANY_INBOUND

    async def add(self, request: InboundInput) -> InboundRoute:
        route = InboundRoute(did_pattern="", caller_pattern="", dest="")
        async with config_transaction(self._sessions) as db:
            await self._apply(db, route, request, creating=True)
            await self._check_room(db)
            await self._check_duplicates(db, route)
            route.position = await next_position(db, InboundRoute.position)
            db.add(route)
        return route

    async def update(self, route_id: int | None, request: InboundInput) -> None:
        async with config_transaction(self._sessions) as db:
            route = await self._locked(db, route_id)
            await self._apply(db, route, request, creating=False)
            await self._check_duplicates(db, route)

    async def set_hours(
        self,
        route_id: int | None,
        condition_text: str,
        off_type: str | None,
        off_dest: str | None,
    ) -> None:
        """Bind business hours (a time condition id; "" unbinds) and the destination for
        calls outside them. The route's own destination serves calls in hours."""
        async with config_transaction(self._sessions) as db:
            route = await self._locked(db, route_id)
            if condition_text.strip() == "":
                route.time_condition_id = None
                route.off_hours_dest_type = route.off_hours_dest = ""
                return
            condition = await locked_condition(db, parse_single_id(condition_text))
            if off_type is None or off_type.strip() == "":
                raise DomainError(MISSING_PARAMETER, "outofhoursdesttype is required")
            kind = validation.dest_type(off_type)
            route.off_hours_dest = await checked_destination(db, self._other, kind, off_dest)
            route.off_hours_dest_type = kind
            route.time_condition_id = condition.id

    async def forget_extensions(self, db: AsyncSession, numbers: list[str]) -> None:
        """Extensions are being deleted (inside that transaction): calls routed to them,
        or to their mailboxes or fax, now hang up (as IVR and queue destinations do)."""
        await redirect_inbound(db, EXTENSION_VALUED, numbers, dest="", dest_type="hangup")

    async def renumber_extension(self, db: AsyncSession, old: str, new: str) -> None:
        await redirect_inbound(db, EXTENSION_VALUED, [old], dest=new)

    # -- helpers -----------------------------------------------------------------------------

    async def _apply(
        self, db: AsyncSession, route: InboundRoute, request: InboundInput, *, creating: bool
    ) -> None:
        """Validate the fields sent in the wire's errno order and set them on `route`."""
        if request.name is not None:
            route.name = validation.route_name(request.name, validation.INBOUND_NAME_INVALID)
        if request.did is not None:
            compile_pattern(request.did.strip(), validation.DID_INVALID)
            route.did_pattern = request.did.strip()
        if request.caller is not None:
            compile_pattern(request.caller.strip(), validation.CALLER_ID_INVALID)
            route.caller_pattern = request.caller.strip()
        if request.trunks is not None:
            trunks = await trunks_named(db, request.trunks, validation.INBOUND_TRUNK_UNKNOWN)
            route.trunk_links = trunk_links(route.trunk_links, trunks, InboundRouteTrunk)
        new_type = None if request.dest_type is None else validation.dest_type(request.dest_type)
        if new_type is None and request.dest is None:
            return
        kind = new_type or route.dest_type
        if creating and kind != "hangup" and (request.dest or "").strip() == "":
            raise DomainError(MISSING_PARAMETER, f"{kind} needs a dest")
        if not creating and request.dest is None and new_type not in (route.dest_type, "hangup"):
            raise DomainError(validation.DEST_INVALID, "a new desttype needs its dest")
        dest = request.dest if request.dest is not None else route.dest
        route.dest = await checked_destination(db, self._other, kind, dest)
        route.dest_type = kind

    async def _check_duplicates(self, db: AsyncSession, route: InboundRoute) -> None:
        others = select(InboundRoute)
        if route.id is not None:
            others = others.where(InboundRoute.id != route.id)
        same_name = await db.execute(others.where(InboundRoute.name == route.name).limit(1))
        if same_name.first() is not None:
            raise DomainError(validation.INBOUND_DUPLICATE, f"route name {route.name} is used")
        same_match = others.where(
            func.lower(InboundRoute.did_pattern) == route.did_pattern.lower(),
            func.lower(InboundRoute.caller_pattern) == route.caller_pattern.lower(),
        )
        mine = {link.trunk_id for link in route.trunk_links}
        for other in (await db.execute(same_match)).scalars():
            if mine & {link.trunk_id for link in other.trunk_links}:
                raise DomainError(
                    validation.INBOUND_DUPLICATE, f"route {other.name} already takes these calls"
                )


async def redirect_inbound(
    db: AsyncSession,
    dest_types: Collection[str],
    old_values: list[str],
    *,
    dest: str,
    dest_type: str | None = None,
) -> None:
    """Inbound routes whose destination (in or out of business hours) is of one of
    `dest_types` and one of `old_values` now lead to `dest` (and `dest_type`, if given)."""
    for type_column, value_column in (
        (InboundRoute.dest_type, InboundRoute.dest),
        (InboundRoute.off_hours_dest_type, InboundRoute.off_hours_dest),
    ):
        values = (
            {value_column: dest}
            if dest_type is None
            else {type_column: dest_type, value_column: dest}
        )
        await db.execute(
            update(InboundRoute)
            .where(type_column.in_(dest_types), value_column.in_(old_values))
            .values(values)
        )


INBOUND_ROUTES: Key[InboundRouteService] = Key("inbound routes")
