"""Lookups of objects that other features own: extensions, extension groups, IVRs,
queues, ring groups and conference rooms.

Numbered objects are asked through the shared number plan
(`kilopbx.apps.numberplan`), so this package imports no other feature's models: our
destination types ("extension", "ivr", "queue", "ringgroup", "conference") are the
kinds those features contribute there. Extension groups have no number: they are found
by name in the extension-group table, and referred to by id so that renaming a group
keeps every reference.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.numberplan import NumberPlan
from kilopbx.store.base import Base

if TYPE_CHECKING:
    from kilopbx.engine.directory import AccountDirectory

log = logging.getLogger(__name__)

EXTENSION_GROUP_MODULE = "kilopbx.apps.extension_groups.models"


class OtherObjects:
    def __init__(
        self, directory: AccountDirectory | None = None, numbers: NumberPlan | None = None
    ) -> None:
        self._directory = directory
        self._numbers = numbers  # None: no numbered object exists (tests of one feature)

    async def _holds_number(self, db: AsyncSession, kind: str, number: str) -> bool:
        """True when an object of `kind` ("queue", "ivr", ...) has the number `number`."""
        if self._numbers is None:
            return False
        return await self._numbers.kind_of(db, number) == kind

    async def extension_exists(self, db: AsyncSession, number: str) -> bool:
        # the account directory holds every extension in memory (the extensions service
        # keeps it current): a hit needs no database round trips
        if self._directory is not None and self._directory.by_number(number) is not None:
            return True
        return await self._holds_number(db, "extension", number)

    async def numbered_object_exists(self, db: AsyncSession, kind: str, number: str) -> bool:
        if kind == "extension":
            return await self.extension_exists(db, number)
        return await self._holds_number(db, kind, number)

    async def extension_group_id(self, db: AsyncSession, name: str) -> int | None:
        """The id of the extension group called `name`, or None."""
        table = _extension_group_table()
        if table is None:
            return None
        found = await db.execute(select(table.c.id).where(table.c.name == name).limit(1))
        row = found.first()
        return None if row is None else int(row.id)

    async def extension_group_names(self, db: AsyncSession, ids: set[int]) -> dict[int, str]:
        """Names of the extension groups with these ids (a group that is gone is left out)."""
        table = _extension_group_table()
        if table is None or not ids:
            return {}
        found = await db.execute(select(table.c.id, table.c.name).where(table.c.id.in_(ids)))
        return {int(row.id): str(row.name) for row in found}


def _extension_group_table() -> Table | None:
    """The extension-group table: a table of Base named for extension groups, with an
    `id` and a `name` (looked up so this package need not import that feature)."""
    try:
        importlib.import_module(EXTENSION_GROUP_MODULE)
    except ImportError:
        return None
    for table in Base.metadata.tables.values():
        named = "group" in table.name and "extension" in table.name
        if named and "name" in table.c and "id" in table.c:
            return table
    return None
