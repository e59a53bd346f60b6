"""Write transactions that hold the database's write lock from their first check on.

Python's sqlite3 driver starts a transaction only at the first INSERT/UPDATE/DELETE, so
the checks a change makes before it writes (does that extension exist? is the name
free?) would read outside the transaction, and another writer (another feature, another
of our services) could commit in between. A write that changes nothing, issued first,
takes SQLite's write lock at once (like BEGIN IMMEDIATE); other writers wait for it
(busy_timeout) instead of slipping in. PostgreSQL needs no such step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_CLAIM_WRITE_LOCK = text("UPDATE system_setting SET value = value WHERE 1 = 0")


@asynccontextmanager
async def write_transaction(sessions: async_sessionmaker[Any]) -> AsyncIterator[AsyncSession]:
    """`sessions.begin()` that owns the write lock from the start (SQLite)."""
    async with sessions.begin() as db:
        if db.get_bind().dialect.name == "sqlite":
            await db.execute(_CLAIM_WRITE_LOCK)
        yield db
