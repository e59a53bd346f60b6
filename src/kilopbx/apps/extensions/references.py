"""Other features' rows that name an extension by its number (a group member, a queue
agent, a route permission, an alarm): they go with a deleted extension and follow a
renumbered one, in the extension change's own transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from kilopbx.apps.extensions.service import EXTENSIONS

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


def follow_extension_columns(pbx: Host, *columns: InstrumentedAttribute[str]) -> None:
    """Rows whose `column` holds an extension number are deleted with the extension
    (one statement per batch of numbers) and renumbered with it."""

    async def deleted(db: AsyncSession, numbers: list[str]) -> None:
        for column in columns:
            await db.execute(delete(column.class_).where(column.in_(numbers)))

    async def renumbered(db: AsyncSession, old: str, new: str) -> None:
        for column in columns:
            await db.execute(update(column.class_).where(column == old).values({column.key: new}))

    service = pbx.registry.get(EXTENSIONS)
    service.on_extensions_deleted(deleted)
    service.on_extension_renumbered(renumbered)
