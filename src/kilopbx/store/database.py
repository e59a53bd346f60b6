"""Engine creation and schema migration (Alembic, run in-process at start-up)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy
from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
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


def sqlite_file(engine: AsyncEngine | None) -> str | None:
    """The path of the engine's SQLite file; None for other databases and in-memory ones."""
    if engine is None:
        return None
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def sqlite_thread_engine(engine: AsyncEngine | None) -> Engine | None:
    """A synchronous engine on the same SQLite file, for a writer that does all of one
    transaction in one worker thread (``asyncio.to_thread``); None for other databases.

    Through aiosqlite every statement is a round trip between the event loop and the
    driver's thread, and while the loop is busy each one waits for the loop and for the
    GIL; a transaction done wholly in a thread waits once.
    """
    if sqlite_file(engine) is None:
        return None
    assert engine is not None
    url = engine.url
    sync = sqlalchemy.create_engine(
        url.set(drivername="sqlite"),
        pool_size=1,
        max_overflow=0,
        connect_args={"check_same_thread": False},
    )
    event.listen(sync, "connect", _sqlite_pragmas)
    return sync


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
