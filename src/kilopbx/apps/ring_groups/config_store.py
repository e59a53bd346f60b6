"""How the group features write configuration: one transaction per API change, under
the number plan's process-wide lock, so a number check and the commit that depends on
it cannot interleave with another writer, and two updates of one object apply one
after the other (neither is lost)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.numberplan import number_plan_lock
from kilopbx.apps.ring_groups.destinations import (
    VALUELESS_TYPES,
    Destination,
    check_destination,
)
from kilopbx.apps.ring_groups.values import invalid
from kilopbx.store.database import write_transaction


@asynccontextmanager
async def config_change(sessions: async_sessionmaker[Any]) -> AsyncIterator[AsyncSession]:
    """The number-plan lock and a transaction that owns the database's write lock from
    its first statement, so what the change reads stays true until it commits, even
    against writers outside the number-plan lock (e.g. an extension being deleted)."""
    async with number_plan_lock(), write_transaction(sessions) as db:
        yield db


async def changed_destination(
    db: AsyncSession,
    stored: Destination,
    new_kind: str | None,
    new_value: str | None,
    reason: str,
    field: str,
    *,
    own: Destination | None = None,
) -> Destination | None:
    """The destination after an update that may send its type, its value or both;
    None when neither was sent. A new type that needs a value must come with one."""
    if new_kind is None and new_value is None:
        return None
    if new_kind is not None and new_kind != stored.kind and new_value is None:
        if new_kind in VALUELESS_TYPES:
            return Destination(new_kind)
        raise invalid(reason, field, new_kind, "a new destination type needs its value too")
    kind = new_kind if new_kind is not None else stored.kind
    value = new_value if new_value is not None else stored.value
    return await check_destination(db, kind, value, reason, field, own=own)


async def change_destination(
    db: AsyncSession,
    row: Any,
    columns: tuple[str, str],
    new_kind: str | None,
    new_value: str | None,
    reason: str,
    field: str,
    *,
    own: Destination | None = None,
) -> None:
    """Apply an update's destination type and/or value to the attributes `columns`
    (type, value) of `row`, checked as `changed_destination` does; nothing when neither
    was sent."""
    type_attribute, value_attribute = columns
    stored = Destination(getattr(row, type_attribute), getattr(row, value_attribute))
    target = await changed_destination(db, stored, new_kind, new_value, reason, field, own=own)
    if target is not None:
        setattr(row, type_attribute, target.kind)
        setattr(row, value_attribute, target.value)
