"""Routing rules compiled once and kept in memory until one of their tables changes
(`kilopbx.store.table_changes`), so a call costs no query and no pattern compilation,
and every change made through the API still applies to the very next call (no reload
step). Rules are filed by the literal start of their pattern (`rule_index`), so a call
tries only the few that can match."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.extension_groups.models import ExtensionGroupMember
from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.routes import validation
from kilopbx.apps.routes.matching import (
    InboundRule,
    OutboundRule,
    choose_inbound,
    choose_outbound,
)
from kilopbx.apps.routes.models import InboundRoute, OutboundRoute
from kilopbx.apps.routes.patterns import compile_pattern
from kilopbx.apps.routes.rule_index import PrefixIndex
from kilopbx.apps.timeconditions.models import TimeCondition
from kilopbx.apps.timeconditions.schedule import parse_schedule
from kilopbx.apps.timeconditions.service import local_moment
from kilopbx.apps.trunks.models import Trunk
from kilopbx.engine.routing import Destination, OutboundChoice
from kilopbx.store import table_changes


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
                hours_zone="" if condition is None else condition.timezone,
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


@dataclass(frozen=True, slots=True)
class DodBinding:
    kind: str  # extension | group
    target: str
    group_id: int | None
    number: str
    name: str


@dataclass(slots=True)
class RoutingTables:
    """Everything a call's routing reads, compiled."""

    inbound: dict[str, PrefixIndex[InboundRule]] = field(default_factory=dict)  # by trunk
    outbound: PrefixIndex[OutboundRule] = field(default_factory=lambda: PrefixIndex([]))
    groups: dict[str, frozenset[int]] = field(default_factory=dict)  # extension -> ids
    dods: dict[str, tuple[DodBinding, ...]] = field(default_factory=dict)  # by trunk


async def load_tables(db: AsyncSession) -> RoutingTables:
    tables = RoutingTables()
    by_trunk: dict[str, list[tuple[str, InboundRule]]] = {}
    for rule in await inbound_rules(db, 0.0):
        for trunk in rule.trunks:
            by_trunk.setdefault(trunk, []).append((rule.did.text, rule))
    tables.inbound = {trunk: PrefixIndex(rules) for trunk, rules in by_trunk.items()}
    tables.outbound = PrefixIndex([(r.prefix.text, r) for r in await outbound_rules(db)])
    memberships: dict[str, set[int]] = {}
    query = select(Extension.number, ExtensionGroupMember.group_id).join(
        Extension, Extension.id == ExtensionGroupMember.extension_id
    )
    for number, group_id in (await db.execute(query)).all():
        memberships.setdefault(number, set()).add(group_id)
    tables.groups = {number: frozenset(ids) for number, ids in memberships.items()}
    for row_trunk in (await db.execute(select(Trunk))).scalars():
        tables.dods[row_trunk.name] = tuple(
            DodBinding(row.target_kind, row.target, row.group_id, row.number, row.name)
            for row in row_trunk.dod_bindings
        )
    return tables


def dod_for(
    bindings: tuple[DodBinding, ...], caller: str, groups: frozenset[int]
) -> DodBinding | None:
    """The caller's own binding first, else the first of one of its groups."""
    for binding in bindings:
        if binding.kind == "extension" and binding.target == caller:
            return binding
    for binding in bindings:
        if binding.kind == "group" and binding.group_id in groups:
            return binding
    return None


class CallRouter:
    """The engine's `CallRouting` over the stored routes: where does this inbound call
    go, which trunks carry this outbound call, with which number and caller ID."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._tables: RoutingTables | None = None
        self._generation = -1
        table_changes.watch()

    async def tables(self) -> RoutingTables:
        generation = table_changes.generation()
        if self._tables is None or generation != self._generation:
            async with self._sessions() as db:
                tables = await load_tables(db)
            # a change committed while loading leaves the generation moved: load again
            # at the next call rather than keep what may be stale
            self._tables, self._generation = tables, generation
        return self._tables

    async def inbound(self, trunk: str, did: str, caller: str, epoch: float) -> Destination | None:
        index = (await self.tables()).inbound.get(trunk)
        rules = () if index is None else index.candidates(did)
        zones: dict[str, dt.datetime] = {}

        def moment(rule: InboundRule) -> dt.datetime | None:
            zone = rule.hours_zone
            if zone not in zones:
                tz = zoneinfo.ZoneInfo(zone) if zone else None
                zones[zone] = dt.datetime.fromtimestamp(epoch, tz)
            return zones[zone]

        return choose_inbound(rules, trunk, did, caller, moment)

    async def outbound_through(self, routes: frozenset[str], dialled: str) -> OutboundChoice | None:
        """See `CallRouting.outbound_through`: the IVR's routes, no caller permission."""
        tables = await self.tables()
        for rule in tables.outbound.candidates(dialled):
            if (routes and rule.name not in routes) or rule.pin or not rule.trunks:
                continue
            if not rule.prefix.matches(dialled):
                continue
            return OutboundChoice(
                rule.name,
                rule.prepend + dialled[rule.strip or 0 :],
                rule.trunks,
                caller_id_number=rule.caller_id_number,
                caller_id_name=rule.caller_id_name,
                record=rule.record,
            )
        return None

    async def outbound(
        self, caller: str, caller_groups: frozenset[int], dialled: str
    ) -> OutboundChoice | None:
        tables = await self.tables()
        groups = caller_groups | tables.groups.get(caller, frozenset())
        choice = choose_outbound(tables.outbound.candidates(dialled), caller, groups, dialled)
        if choice is None or not choice.allowed:
            return choice
        dod = []
        for trunk in choice.trunks:
            binding = dod_for(tables.dods.get(trunk, ()), caller, groups)
            if binding is not None:
                dod.append((trunk, binding.number, binding.name))
        return OutboundChoice(
            choice.route,
            choice.number,
            choice.trunks,
            caller_id_number=choice.caller_id_number,
            caller_id_name=choice.caller_id_name,
            pin=choice.pin,
            record=choice.record,
            dod=tuple(dod),
        )
