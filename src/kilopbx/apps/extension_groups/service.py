"""The one place that changes extension groups.

Members point at extension rows: renumbering an extension keeps its memberships, and the
extension service's delete hook removes a deleted extension from every group in the same
transaction. Other features that refer to groups (route permissions, ...) register
`on_group_deleted` so nothing is left pointing at a missing group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.extension_groups.models import ExtensionGroup, ExtensionGroupMember
from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.extensions.wire import number_order
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key
from kilopbx.store.database import write_transaction

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

INVALID = "extension_groups.invalid"
MAX_GROUPS = 300
# callback(db, group_id): runs inside the deleting transaction, before the group goes
GroupDeletedCallback = Callable[[AsyncSession, int], Awaitable[None]]


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    members: list[str]  # extension numbers, ascending


@dataclass(frozen=True)
class MemberResolution:
    extension_ids: list[int]
    unknown: list[str]  # listed numbers that are not extensions, in request order


class ExtensionGroupService:
    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self._write_lock = asyncio.Lock()
        self._deleted_callbacks: list[GroupDeletedCallback] = []
        pbx.registry.get(EXTENSIONS).on_extensions_deleted(self._extensions_deleted)

    def on_group_deleted(self, callback: GroupDeletedCallback) -> None:
        self._deleted_callbacks.append(callback)

    # -- reads ----------------------------------------------------------------------------

    async def exists(self, db: AsyncSession, group_id: int) -> bool:
        return await db.get(ExtensionGroup, group_id) is not None

    async def member_numbers(self, db: AsyncSession, group_id: int) -> list[str]:
        query = (
            select(Extension.number)
            .join(ExtensionGroupMember, ExtensionGroupMember.extension_id == Extension.id)
            .where(ExtensionGroupMember.group_id == group_id)
        )
        return sorted(await db.scalars(query), key=number_order)

    async def query(self, ids: list[int] | None) -> list[GroupView]:
        async with self.pbx.db() as db:
            groups = select(ExtensionGroup).order_by(ExtensionGroup.id)
            members = select(ExtensionGroupMember.group_id, Extension.number).join(
                Extension, ExtensionGroupMember.extension_id == Extension.id
            )
            if ids is not None:
                groups = groups.where(ExtensionGroup.id.in_(ids))
                members = members.where(ExtensionGroupMember.group_id.in_(ids))
            rows = list(await db.scalars(groups))
            by_group: dict[int, list[str]] = {}
            for group_id, number in await db.execute(members):
                by_group.setdefault(group_id, []).append(number)
        return [
            GroupView(g.id, g.name, sorted(by_group.get(g.id, []), key=number_order)) for g in rows
        ]

    # -- writes ---------------------------------------------------------------------------

    async def add(self, name: str, members: list[str]) -> tuple[int, list[str]]:
        """Create a group; returns its id and the listed numbers that are not extensions."""
        async with self._write_lock, write_transaction(self.pbx.db) as db:
            count = await db.scalar(select(func.count()).select_from(ExtensionGroup)) or 0
            if count >= MAX_GROUPS:
                raise DomainError(INVALID, detail=f"at most {MAX_GROUPS} groups")
            await self._check_name_free(db, name, own_id=None)
            group = ExtensionGroup(name=name)
            db.add(group)
            await db.flush()
            resolved = await self._resolve(db, members)
            self._add_members(db, group.id, resolved.extension_ids)
        return group.id, resolved.unknown

    async def update(self, group_id: int, name: str | None, members: list[str] | None) -> list[str]:
        """Rename and/or replace the member list; returns the unknown numbers."""
        async with self._write_lock, write_transaction(self.pbx.db) as db:
            group = await db.get(ExtensionGroup, group_id)
            if group is None:
                raise DomainError(MISSING_PARAMETER, detail=f"no extension group {group_id}")
            if name is not None and name != group.name:
                await self._check_name_free(db, name, own_id=group_id)
                group.name = name
            if members is None:
                return []
            resolved = await self._resolve(db, members)
            await db.execute(
                delete(ExtensionGroupMember).where(ExtensionGroupMember.group_id == group_id)
            )
            self._add_members(db, group_id, resolved.extension_ids)
        return resolved.unknown

    async def delete(self, ids: list[int] | None) -> list[int]:
        """Delete the listed groups (None: all); unknown ids are ignored."""
        async with self._write_lock, write_transaction(self.pbx.db) as db:
            query = select(ExtensionGroup.id)
            if ids is not None:
                query = query.where(ExtensionGroup.id.in_(ids))
            doomed = list(await db.scalars(query))
            for group_id in doomed:
                for callback in self._deleted_callbacks:
                    await callback(db, group_id)
            if doomed:
                await db.execute(
                    delete(ExtensionGroupMember).where(ExtensionGroupMember.group_id.in_(doomed))
                )
                await db.execute(delete(ExtensionGroup).where(ExtensionGroup.id.in_(doomed)))
        return doomed

    # -- helpers --------------------------------------------------------------------------

    async def _check_name_free(self, db: AsyncSession, name: str, own_id: int | None) -> None:
        holder = await db.scalar(select(ExtensionGroup.id).where(ExtensionGroup.name == name))
        if holder is not None and holder != own_id:
            raise DomainError(INVALID, detail=f"extension group name {name!r} is in use")

    async def _resolve(self, db: AsyncSession, numbers: Iterable[str]) -> MemberResolution:
        wanted = list(dict.fromkeys(numbers))
        found: dict[str, int] = {}
        if wanted:
            query = select(Extension.number, Extension.id).where(Extension.number.in_(wanted))
            found = {number: ext_id for number, ext_id in await db.execute(query)}
        return MemberResolution(
            extension_ids=[found[n] for n in wanted if n in found],
            unknown=[n for n in wanted if n not in found],
        )

    @staticmethod
    def _add_members(db: AsyncSession, group_id: int, extension_ids: list[int]) -> None:
        db.add_all(
            ExtensionGroupMember(group_id=group_id, extension_id=ext_id) for ext_id in extension_ids
        )

    async def _extensions_deleted(self, db: AsyncSession, numbers: list[str]) -> None:
        ext_ids = select(Extension.id).where(Extension.number.in_(numbers))
        await db.execute(
            delete(ExtensionGroupMember).where(ExtensionGroupMember.extension_id.in_(ext_ids))
        )


EXTENSION_GROUPS: Key[ExtensionGroupService] = Key("extension groups")
