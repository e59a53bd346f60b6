"""Routing rules read from the database at the moment of a call, so every change made
through the API applies to the very next call (no reload step)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.routes import validation
from kilopbx.apps.routes.matching import (
    InboundRule,
    OutboundRule,
    choose_inbound,
    choose_outbound,
)
from kilopbx.apps.routes.models import InboundRoute, OutboundRoute
from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.timeconditions.models import TimeCondition
from kilopbx.apps.timeconditions.schedule import parse_schedule
from kilopbx.apps.timeconditions.service import local_moment
from kilopbx.engine.routing import Destination, OutboundChoice


async def inbound_rules(db: AsyncSession, epoch: float) -> list[InboundRule]:
    query = select(InboundRoute).order_by(InboundRoute.position, InboundRoute.id)
    routes = list((await db.execute(query)).scalars())
    conditions = {c.id: c for c in (await db.execute(select(TimeCondition))).scalars()}
    rules = []
    for route in routes:
        condition = conditions.get(route.time_condition_id or 0)
        rules.append(
            InboundRule(
                name=route.name,
                trunks=frozenset(link.trunk.name for link in route.trunk_links),
                did=compile_pattern(route.did_pattern, validation.DID_INVALID),
                caller=compile_pattern(route.caller_pattern, validation.CALLER_ID_INVALID),
                dest_type=route.dest_type,
                dest=route.dest,
                hours=None
                if condition is None
                else parse_schedule(condition.weekly, condition.exceptions),
                hours_moment=None if condition is None else local_moment(condition, epoch),
                off_hours_dest_type=route.off_hours_dest_type,
                off_hours_dest=route.off_hours_dest,
            )
        )
    return rules


async def outbound_rules(db: AsyncSession) -> list[OutboundRule]:
    query = select(OutboundRoute).order_by(OutboundRoute.position, OutboundRoute.id)
    return [
        OutboundRule(
            name=route.name,
            prefix=compile_pattern(route.prefix, validation.PREFIX_INVALID),
            strip=route.strip,
            prepend=route.prepend,
            trunks=tuple(link.trunk.name for link in route.trunk_links if link.trunk.enabled),
            all_extensions=route.all_extensions,
            extensions=frozenset(link.number for link in route.extension_links),
            groups=frozenset(link.group_id for link in route.group_links),
            caller_pattern=compile_pattern(route.caller_pattern, validation.CALLER_ID_INVALID),
            caller_id_number=route.caller_id_number,
            caller_id_name=route.caller_id_name,
            pin=route.pin,
            record=route.record,
        )
        for route in (await db.execute(query)).scalars()
    ]


class CallRouter:
    """The engine's `CallRouting` over the stored routes: where does this inbound call
    go, which trunks carry this outbound call and with which number."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def inbound(self, trunk: str, did: str, caller: str, epoch: float) -> Destination | None:
        async with self._sessions() as db:
            return choose_inbound(await inbound_rules(db, epoch), trunk, did, caller)

    async def outbound(
        self, caller: str, caller_groups: frozenset[int], dialled: str
    ) -> OutboundChoice | None:
        async with self._sessions() as db:
            return choose_outbound(await outbound_rules(db), caller, caller_groups, dialled)
