"""The only place that changes inbound routes (31-routes.md) and their business hours."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.api.errors import MISSING_PARAMETER, ApiError
from kilopbx.apps.routes import validation
from kilopbx.apps.routes.destinations import EXTENSION_VALUED, checked_destination
from kilopbx.apps.routes.links import next_position, trunks_named
from kilopbx.apps.routes.models import InboundRoute, InboundRouteTrunk
from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.timeconditions.service import locked_condition
from kilopbx.apps.trunks.config_lock import config_transaction, routing_config_lock
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.wire_lists import parse_single_id
from kilopbx.store.database import write_transaction

ORDER_INVALID = "10920"


@dataclass
class InboundInput:
    """Values of an add/update request; None: not sent."""

    name: str | None = None
    did: str | None = None
    caller: str | None = None
    trunks: str | None = None
    dest_type: str | None = None
    dest: str | None = None


class InboundRouteService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        other_objects: OtherObjects,
        *,
        max_routes: int,
    ) -> None:
        self._sessions = sessions
        self._other = other_objects
        self.max_routes = max_routes

    async def find(self, ids: list[int] | None) -> list[InboundRoute]:
        """Routes in evaluation order; 10072 when a list of ids names none."""
        async with self._sessions() as db:
            query = select(InboundRoute).order_by(InboundRoute.position, InboundRoute.id)
            if ids is not None:
                query = query.where(InboundRoute.id.in_(ids))
            routes = list((await db.execute(query)).scalars())
        if ids is not None and not routes:
            raise ApiError(validation.INBOUND_UNKNOWN)
        return routes

    async def add(self, request: InboundInput) -> InboundRoute:
        route = InboundRoute(did_pattern="", caller_pattern="", dest="")
        async with config_transaction(self._sessions) as db:
            await self._apply(db, route, request, creating=True)
            count = await db.scalar(select(func.count()).select_from(InboundRoute))
            if (count or 0) >= self.max_routes:
                raise ApiError(validation.TOO_MANY_INBOUND, f"at most {self.max_routes}")
            await self._check_duplicates(db, route)
            route.position = await next_position(db, InboundRoute.position)
            db.add(route)
        return route

    async def update(self, route_id: int | None, request: InboundInput) -> None:
        async with config_transaction(self._sessions) as db:
            route = await self._locked(db, route_id)
            await self._apply(db, route, request, creating=False)
            await self._check_duplicates(db, route)

    async def delete(self, ids: list[int] | None) -> None:
        async with routing_config_lock():
            try:
                async with write_transaction(self._sessions) as db:
                    query = select(InboundRoute).with_for_update()
                    if ids is not None:
                        query = query.where(InboundRoute.id.in_(ids))
                    routes = list((await db.execute(query)).scalars())
                    if ids is not None and len(routes) != len(ids):
                        raise ApiError(validation.INBOUND_UNKNOWN)
                    for route in routes:
                        await db.delete(route)
            except ApiError:
                raise
            except Exception as exc:
                raise ApiError(validation.INBOUND_DELETE_FAILED) from exc

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
                raise ApiError(MISSING_PARAMETER, "outofhoursdesttype is required")
            kind = validation.dest_type(off_type)
            route.off_hours_dest = await checked_destination(db, self._other, kind, off_dest)
            route.off_hours_dest_type = kind
            route.time_condition_id = condition.id

    async def reorder(self, ids: list[int] | None) -> None:
        """Set the evaluation order: `ids` must name every route exactly once."""
        async with config_transaction(self._sessions) as db:
            routes = list((await db.execute(select(InboundRoute).with_for_update())).scalars())
            by_id = {route.id: route for route in routes}
            if ids is None or any(route_id not in by_id for route_id in ids):
                raise ApiError(validation.INBOUND_UNKNOWN, "unknown route id in the order")
            if len(ids) != len(routes):
                raise ApiError(ORDER_INVALID, "the order must list every route once")
            for position, route_id in enumerate(ids, start=1):
                by_id[route_id].position = position

    async def forget_extensions(self, db: AsyncSession, numbers: list[str]) -> None:
        """Extensions are being deleted (inside that transaction): calls routed to them,
        or to their mailboxes or fax, now hang up (as IVR and queue destinations do)."""
        for dest_type, dest in (
            (InboundRoute.dest_type, InboundRoute.dest),
            (InboundRoute.off_hours_dest_type, InboundRoute.off_hours_dest),
        ):
            await db.execute(
                update(InboundRoute)
                .where(dest_type.in_(EXTENSION_VALUED), dest.in_(numbers))
                .values({dest_type: "hangup", dest: ""})
            )

    async def renumber_extension(self, db: AsyncSession, old: str, new: str) -> None:
        for dest_type, dest in (
            (InboundRoute.dest_type, InboundRoute.dest),
            (InboundRoute.off_hours_dest_type, InboundRoute.off_hours_dest),
        ):
            await db.execute(
                update(InboundRoute)
                .where(dest_type.in_(EXTENSION_VALUED), dest == old)
                .values({dest: new})
            )

    # -- helpers -----------------------------------------------------------------------------

    async def _locked(self, db: AsyncSession, route_id: int | None) -> InboundRoute:
        if route_id is None:
            raise ApiError(validation.INBOUND_UNKNOWN)
        query = select(InboundRoute).where(InboundRoute.id == route_id).with_for_update()
        route = (await db.execute(query)).scalar_one_or_none()
        if route is None:
            raise ApiError(validation.INBOUND_UNKNOWN)
        return route

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
            existing = {link.trunk_id: link for link in route.trunk_links}
            links = []
            for position, trunk in enumerate(trunks):
                link = existing.get(trunk.id) or InboundRouteTrunk(trunk_id=trunk.id, trunk=trunk)
                link.position = position
                links.append(link)
            route.trunk_links = links
        new_type = None if request.dest_type is None else validation.dest_type(request.dest_type)
        if new_type is None and request.dest is None:
            return
        kind = new_type or route.dest_type
        if creating and kind != "hangup" and (request.dest or "").strip() == "":
            raise ApiError(MISSING_PARAMETER, f"{kind} needs a dest")
        if not creating and request.dest is None and new_type not in (route.dest_type, "hangup"):
            raise ApiError(validation.DEST_INVALID, "a new desttype needs its dest")
        dest = request.dest if request.dest is not None else route.dest
        route.dest = await checked_destination(db, self._other, kind, dest)
        route.dest_type = kind

    async def _check_duplicates(self, db: AsyncSession, route: InboundRoute) -> None:
        others = select(InboundRoute)
        if route.id is not None:
            others = others.where(InboundRoute.id != route.id)
        same_name = await db.execute(others.where(InboundRoute.name == route.name).limit(1))
        if same_name.first() is not None:
            raise ApiError(validation.INBOUND_DUPLICATE, f"route name {route.name} is used")
        same_match = others.where(
            func.lower(InboundRoute.did_pattern) == route.did_pattern.lower(),
            func.lower(InboundRoute.caller_pattern) == route.caller_pattern.lower(),
        )
        mine = {link.trunk_id for link in route.trunk_links}
        for other in (await db.execute(same_match)).scalars():
            if mine & {link.trunk_id for link in other.trunk_links}:
                raise ApiError(
                    validation.INBOUND_DUPLICATE, f"route {other.name} already takes these calls"
                )
