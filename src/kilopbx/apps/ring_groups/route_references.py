"""Inbound routes (owned by the routes feature) that send calls to a group object, so
that such an object is not deleted from under a live route."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.routes.models import InboundRoute


async def inbound_routes_pointing_at(db: AsyncSession, kind: str, number: str) -> list[str]:
    routes = await db.scalars(
        select(InboundRoute).where(
            ((InboundRoute.dest_type == kind) & (InboundRoute.dest == number))
            | ((InboundRoute.off_hours_dest_type == kind) & (InboundRoute.off_hours_dest == number))
        )
    )
    return [f'inbound route "{route.name}"' for route in routes]
