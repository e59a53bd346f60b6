"""One lock for changes to trunks, routes and time conditions.

These objects refer to each other (routes name trunks, inbound routes use time
conditions), so a change validates against the others and then commits. Holding this
lock from the read to the commit makes each change atomic within the PBX process: two
concurrent updates of one object are applied one after the other, none is lost. Writes
also lock the rows they change (SELECT ... FOR UPDATE) where the database supports it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.one_per import OnePer
from kilopbx.store.database import write_transaction

_locks: OnePer[asyncio.AbstractEventLoop, asyncio.Lock] = OnePer(lambda _loop: asyncio.Lock())


def routing_config_lock() -> asyncio.Lock:
    return _locks(asyncio.get_running_loop())


@asynccontextmanager
async def config_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Hold the lock and one transaction; commit on success, roll back on any error.

    Autoflush is off: a half-applied change must never reach the database before its
    checks pass (a duplicate name would otherwise fail as an internal error).
    The transaction claims the database's write lock before it reads anything, so what
    its checks read stays true until it commits, also against writers that do not take
    our lock (an extension being deleted cannot slip in between "it exists" and the
    commit that refers to it; its delete hook then sees our rows).
    """
    async with routing_config_lock(), write_transaction(sessions) as db:
        db.sync_session.autoflush = False
        yield db
