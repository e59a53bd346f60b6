"""Migration 0006_cdr creates exactly the tables the CDR models describe."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import kilopbx.apps.cdr.models  # noqa: F401  (the tables under test)
from kilopbx.store.database import create_engine, migrate
from tests.unit.test_extensions_migration import differences


async def test_cdr_models_match_the_migrated_schema(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'schema.db'}")
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            tables = {"cdr", "cdr_open_call"}
            assert await conn.run_sync(partial(differences, tables=tables)) == []
    finally:
        await engine.dispose()
