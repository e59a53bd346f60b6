"""A group configuration change holds SQLite's write lock from its first statement, so
no other writer (an extension delete, say) can change what it checked before it
commits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from kilopbx.apps.ring_groups.config_store import config_change
from kilopbx.store.database import create_engine, migrate, session_factory


async def test_other_writers_wait_for_the_change_to_commit(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await migrate(engine)
    sessions = session_factory(engine)
    order: list[str] = []
    change_started = asyncio.Event()

    async def change() -> None:
        async with config_change(sessions):
            order.append("change holds the lock")
            change_started.set()
            await asyncio.sleep(0.3)
            order.append("change commits")

    async def other_writer() -> None:
        await change_started.wait()
        async with sessions.begin() as db:
            await db.execute(text("INSERT INTO system_setting (key, value) VALUES ('k', 'v')"))
        order.append("other writer done")

    try:
        await asyncio.wait_for(asyncio.gather(change(), other_writer()), 10)
    finally:
        await engine.dispose()
    assert order == ["change holds the lock", "change commits", "other writer done"]
