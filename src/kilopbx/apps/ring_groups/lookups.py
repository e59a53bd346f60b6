"""Questions the group features ask about objects other features own: which extension
numbers exist, and which extensions belong to an extension group (by name).

They read the extension service's tables in the caller's session, so a check and the
write that depends on it see the same data.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.extension_groups.models import ExtensionGroup, ExtensionGroupMember
from kilopbx.apps.extensions.models import Extension


async def existing_extensions(db: AsyncSession, numbers: Iterable[str]) -> set[str]:
    wanted = list(dict.fromkeys(numbers))
    if not wanted:
        return set()
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # stay below SQLite's bound-parameter limit
        chunk = wanted[start : start + 500]
        rows = await db.scalars(select(Extension.number).where(Extension.number.in_(chunk)))
        found.update(rows)
    return found


async def missing_extensions(db: AsyncSession, numbers: Iterable[str]) -> list[str]:
    wanted = list(numbers)
    found = await existing_extensions(db, wanted)
    return [number for number in wanted if number not in found]


async def extension_exists(db: AsyncSession, number: str) -> bool:
    return bool(await existing_extensions(db, [number]))


async def all_extension_numbers(db: AsyncSession) -> list[str]:
    return list(await db.scalars(select(Extension.number).order_by(Extension.id)))


async def extension_group_ids(db: AsyncSession, names: Iterable[str]) -> dict[str, int]:
    """The ids of the extension groups with these names (unknown names are left out)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return {}
    rows = await db.execute(
        select(ExtensionGroup.name, ExtensionGroup.id).where(ExtensionGroup.name.in_(wanted))
    )
    return {name: group_id for name, group_id in rows.tuples()}


async def extension_group_members(db: AsyncSession, group_ids: Iterable[int]) -> set[str]:
    wanted = list(dict.fromkeys(group_ids))
    if not wanted:
        return set()
    rows = await db.scalars(
        select(Extension.number)
        .join(ExtensionGroupMember, ExtensionGroupMember.extension_id == Extension.id)
        .where(ExtensionGroupMember.group_id.in_(wanted))
    )
    return set(rows)
