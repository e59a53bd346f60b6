"""Trunk lists of routes: names on the wire, trunk ids (with their order) in the store."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.trunks.models import Trunk
from kilopbx.apps.trunks.wire_lists import split_list
from kilopbx.core.errors import MISSING_PARAMETER, DomainError

MAX_LIST_ITEMS = 2000


def distinct_items(text: str) -> list[str]:
    """Comma list items, duplicates dropped (first one kept); 10004 when none."""
    items = list(dict.fromkeys(split_list(text)))
    if not items:
        raise DomainError(MISSING_PARAMETER, "the list is empty")
    return items


async def trunks_named(db: AsyncSession, text: str, reason: str) -> list[Trunk]:
    """The trunks of a comma list of names, in list order; DomainError(reason) for an
    unknown name."""
    names = distinct_items(text)
    if len(names) > MAX_LIST_ITEMS:
        raise DomainError(reason, "too many trunks")
    found = await db.execute(select(Trunk).where(Trunk.name.in_(names)))
    by_name = {trunk.name: trunk for trunk in found.scalars()}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise DomainError(reason, f"no trunk named {missing[0][:63]}")
    return [by_name[name] for name in names]


async def next_position(db: AsyncSession, column: object) -> int:
    highest = await db.scalar(select(func.max(column)))
    return (highest or 0) + 1
