"""What inbound and outbound routes have in common: a table of routes in evaluation
order, found by id, locked for a change, deleted all or nothing, counted against a limit,
reordered as a whole, and linked to trunks in list order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.trunks.config_lock import config_transaction, routing_config_lock
from kilopbx.apps.trunks.models import Trunk
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.core.errors import DomainError
from kilopbx.store.database import write_transaction

ORDER_INVALID = "routes.order_invalid"


class RouteServiceBase:
    """A route service's shared half; subclasses name their table and reasons."""

    model: ClassVar[Any]  # InboundRoute or OutboundRoute
    unknown_reason: ClassVar[str]  # a route id that names no route
    delete_failed_reason: ClassVar[str]
    too_many_reason: ClassVar[str]

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

    async def find(self, ids: list[int] | None) -> list[Any]:
        """Routes in evaluation order; the unknown-route reason when a list of ids names
        none."""
        async with self._sessions() as db:
            query = select(self.model).order_by(self.model.position, self.model.id)
            if ids is not None:
                query = query.where(self.model.id.in_(ids))
            routes = list((await db.execute(query)).scalars())
        if ids is not None and not routes:
            raise DomainError(self.unknown_reason)
        return routes

    async def delete(self, ids: list[int] | None) -> None:
        """Delete the listed routes (None: all), all or nothing."""
        async with routing_config_lock():
            try:
                async with write_transaction(self._sessions) as db:
                    query = select(self.model).with_for_update()
                    if ids is not None:
                        query = query.where(self.model.id.in_(ids))
                    routes = list((await db.execute(query)).scalars())
                    if ids is not None and len(routes) != len(ids):
                        raise DomainError(self.unknown_reason)
                    for route in routes:
                        await db.delete(route)
            except DomainError:
                raise
            except Exception as exc:
                raise DomainError(self.delete_failed_reason) from exc

    async def reorder(self, ids: list[int] | None) -> None:
        """Set the evaluation order: `ids` must name every route exactly once."""
        async with config_transaction(self._sessions) as db:
            routes = list((await db.execute(select(self.model).with_for_update())).scalars())
            by_id = {route.id: route for route in routes}
            if ids is None or any(route_id not in by_id for route_id in ids):
                raise DomainError(self.unknown_reason, "unknown route id in the order")
            if len(ids) != len(routes):
                raise DomainError(ORDER_INVALID, "the order must list every route once")
            for position, route_id in enumerate(ids, start=1):
                by_id[route_id].position = position

    async def _locked(self, db: AsyncSession, route_id: int | None) -> Any:
        if route_id is None:
            raise DomainError(self.unknown_reason)
        query = select(self.model).where(self.model.id == route_id).with_for_update()
        route = (await db.execute(query)).scalar_one_or_none()
        if route is None:
            raise DomainError(self.unknown_reason)
        return route

    async def _check_room(self, db: AsyncSession) -> None:
        """Refuse a new route once `max_routes` exist."""
        count = await db.scalar(select(func.count()).select_from(self.model))
        if (count or 0) >= self.max_routes:
            raise DomainError(self.too_many_reason, f"at most {self.max_routes}")


def trunk_links(current: Sequence[Any], trunks: list[Trunk], link_type: type[Any]) -> list[Any]:
    """A route's trunk links for `trunks` in this order, keeping the links it has."""
    existing = {link.trunk_id: link for link in current}
    links = []
    for position, trunk in enumerate(trunks):
        link = existing.get(trunk.id) or link_type(trunk_id=trunk.id, trunk=trunk)
        link.position = position
        links.append(link)
    return links
