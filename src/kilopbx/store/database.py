"""Engine creation and schema migration (Alembic, run in-process at start-up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL + synchronous=NORMAL: a committed transaction survives a process crash (kill -9);
    # only an OS crash or power loss can lose the last commits.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, pool_size=8, max_overflow=8)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    # "heads": features add their own migration branches off the foundation revision.
    command.upgrade(alembic_config(connection), "heads")


async def migrate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)


# a write that changes nothing (system_setting is in the foundation revision)
_CLAIM_WRITE_LOCK = text("UPDATE system_setting SET value = value WHERE 1 = 0")


@asynccontextmanager
async def write_transaction(sessions: async_sessionmaker[Any]) -> AsyncIterator[AsyncSession]:
    """`sessions.begin()` that holds the database's write lock from its first statement.

    Python's sqlite3 driver starts a transaction only at the first INSERT/UPDATE/DELETE,
    so the checks a change makes before it writes (does that extension exist? is the
    name free?) would read outside the transaction, and another writer could commit in
    between. A write that changes nothing, issued first, takes SQLite's write lock at
    once (like BEGIN IMMEDIATE); other writers wait for it (busy_timeout) instead of
    slipping in. PostgreSQL needs no such step (lock rows with SELECT ... FOR UPDATE).
    Commits on success, rolls back on any error.
    """
    async with sessions.begin() as db:
        if db.get_bind().dialect.name == "sqlite":
            await db.execute(_CLAIM_WRITE_LOCK)
        yield db
