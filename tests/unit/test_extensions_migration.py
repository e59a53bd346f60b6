"""Migration 0002_extensions creates exactly the tables the models describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

import kilopbx.apps.contacts.models
import kilopbx.apps.extension_groups.models
import kilopbx.apps.extensions.models  # noqa: F401  (the tables under test)
from kilopbx.store.base import Base
from kilopbx.store.database import create_engine, migrate

MY_TABLES = {"extension", "extension_group", "extension_group_member", "company_contact"}


def table_of(diff: Any, tables: set[str] = MY_TABLES) -> str | None:
    """The table a diff entry of compare_metadata is about."""
    entry = diff[0] if isinstance(diff, list) else diff
    for item in entry[1:]:
        name = getattr(item, "name", None)
        table = getattr(item, "table", None)
        if table is not None:
            return str(table.name)
        if isinstance(item, str) and item in tables:
            return item
        if name in tables:
            return str(name)
    return None


def differences(connection: Connection, tables: set[str] = MY_TABLES) -> list[Any]:
    """What differs between the models and the migrated schema, for `tables` only."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    diffs = compare_metadata(context, Base.metadata)
    return [d for d in diffs if table_of(d, tables) in tables]


async def test_models_match_the_migrated_schema(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()
