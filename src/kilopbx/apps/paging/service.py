"""Paging groups: the only code that changes them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.extension_groups.models import ExtensionGroup
from kilopbx.apps.paging.models import PagingGroup, PagingMember, PagingMemberGroup
from kilopbx.apps.paging.wire import (
    GROUP_MISSING,
    INVALID_VALUE,
    MAX_GROUPS,
    MAX_MEMBERS,
    MULTICAST,
    NO_SUCH_EXTENSION,
    NUMBER_IN_USE,
    MemberSettings,
    PagingChanges,
    parse_member_settings,
    parse_multicast_address,
)
from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.apps.ring_groups.lookups import (
    extension_group_ids,
    extension_group_members,
    missing_extensions,
)
from kilopbx.apps.ring_groups.numbered import (
    NumberedObjects,
    NumberedService,
    ordered_extensions,
    replace_extensions,
)
from kilopbx.apps.ring_groups.values import shown
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.registry import Key

KIND = "paging"
PAGING_GROUPS = NumberedObjects(PagingGroup, "paging group", GROUP_MISSING)


@dataclass
class StoredPagingGroup:
    group: PagingGroup
    members: list[str]
    member_groups: list[str]


class PagingService(NumberedService):
    objects = PAGING_GROUPS

    async def query(self, numbers: list[str] | None) -> list[StoredPagingGroup]:
        async with self._sessions() as db:
            found = []
            for group in await PAGING_GROUPS.rows(db, numbers):
                members, member_groups = await _membership(db, group.number)
                names = [name for _id, name in member_groups]
                found.append(StoredPagingGroup(group, members, names))
            return found

    async def add(self, number: str, name: str, kind: str, changes: PagingChanges) -> None:
        async with config_change(self._sessions) as db:
            await self._numbers.ensure_free(db, number, NUMBER_IN_USE)
            count = await db.scalar(select(func.count()).select_from(PagingGroup))
            if (count or 0) >= MAX_GROUPS:
                raise DomainError(INVALID_VALUE, detail=f"at most {MAX_GROUPS} paging groups")
            group = PagingGroup(
                number=number, name=name, kind=kind, dial_to_answer=False, multicast_address=""
            )
            db.add(group)
            await db.flush()
            await _apply(db, group, changes, was_multicast=False)

    async def update(self, number: str, changes: PagingChanges) -> None:
        async with config_change(self._sessions) as db:
            group = await PAGING_GROUPS.get(db, number)
            await _apply(db, group, changes, was_multicast=group.kind == MULTICAST)


async def _apply(
    db: AsyncSession, group: PagingGroup, changes: PagingChanges, *, was_multicast: bool
) -> None:
    if changes.name is not None:
        group.name = changes.name
    if changes.kind is not None:
        group.kind = changes.kind
    if group.kind == MULTICAST:
        # member settings are kept silently so that changing back restores them
        if changes.multicast_text is not None:
            group.multicast_address = parse_multicast_address(changes.multicast_text)
        if not group.multicast_address:
            raise DomainError(MISSING_PARAMETER, detail="a multicast group needs multicastip")
        return
    await _apply_members(db, group, parse_member_settings(changes), was_multicast=was_multicast)


async def _apply_members(
    db: AsyncSession, group: PagingGroup, changes: MemberSettings, *, was_multicast: bool
) -> None:
    sent_members = changes.members is not None or changes.member_groups is not None
    if was_multicast and not sent_members:
        raise DomainError(MISSING_PARAMETER, detail="changing to paging/intercom needs members")
    if changes.dial_to_answer is not None:
        group.dial_to_answer = changes.dial_to_answer
    members, member_groups = await _membership(db, group.number)
    if changes.members is not None:
        unknown = await missing_extensions(db, changes.members)
        if unknown:
            raise DomainError(NO_SUCH_EXTENSION, detail=f"member: no extension {shown(unknown[0])}")
        members = changes.members
    if changes.member_groups is not None:
        ids = await extension_group_ids(db, changes.member_groups)
        unknown_groups = [name for name in changes.member_groups if name not in ids]
        if unknown_groups:
            detail = f"membergroup: no extension group {unknown_groups[0]!r}"
            raise DomainError(INVALID_VALUE, detail=detail)
        member_groups = [(ids[name], name) for name in changes.member_groups]
    if not members and not member_groups:
        raise DomainError(MISSING_PARAMETER, detail="a paging group needs member or membergroup")
    group_ids = [group_id for group_id, _name in member_groups]
    everyone = set(members) | await extension_group_members(db, group_ids)
    if len(everyone) > MAX_MEMBERS:
        raise DomainError(INVALID_VALUE, detail=f"at most {MAX_MEMBERS} extensions per group")
    await _store_membership(db, group.number, members, member_groups)


# an extension group of a paging group: (extension group id, its current name)
MemberGroup = tuple[int, str]


async def _membership(db: AsyncSession, number: str) -> tuple[list[str], list[MemberGroup]]:
    members = await ordered_extensions(db, PagingMember.group_number, number)
    groups = await db.execute(
        select(ExtensionGroup.id, ExtensionGroup.name)
        .join(PagingMemberGroup, PagingMemberGroup.extension_group_id == ExtensionGroup.id)
        .where(PagingMemberGroup.group_number == number)
        .order_by(PagingMemberGroup.position)
    )
    return members, list(groups.tuples())


async def _store_membership(
    db: AsyncSession, number: str, members: list[str], member_groups: list[MemberGroup]
) -> None:
    await replace_extensions(db, PagingMember.group_number, number, members)
    await db.execute(delete(PagingMemberGroup).where(PagingMemberGroup.group_number == number))
    db.add_all(
        PagingMemberGroup(group_number=number, extension_group_id=group_id, position=index)
        for index, (group_id, _name) in enumerate(member_groups)
    )


PAGING: Key[PagingService] = Key("paging groups")
