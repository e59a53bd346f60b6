"""Session expiry and lockout with a fake clock, on a real (temporary) SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.api.errors import ApiError
from kilopbx.api.lockout import LoginLockout, unlock
from kilopbx.api.sessions import SessionManager
from kilopbx.clock import FakeClock
from kilopbx.store.database import create_engine, migrate, session_factory


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


async def errno_of(coro: object) -> str:
    with pytest.raises(ApiError) as err:
        await coro  # type: ignore[misc]
    return err.value.errno


def manager(db: async_sessionmaker, clock: FakeClock) -> SessionManager:
    return SessionManager(db, clock, idle_seconds=1800, max_sessions=32)


async def test_sliding_expiry_and_20006_memory(db: async_sessionmaker) -> None:
    clock = FakeClock()
    sessions = manager(db, clock)
    s = await sessions.create("127.0.0.1", port=8260, url="", urltag="0", version="2.0.0")
    clock.advance(1700)
    await sessions.authenticate(s.token)
    clock.advance(1700)  # 3400 s after login but only 1700 after the last request
    await sessions.authenticate(s.token)
    clock.advance(1801)
    assert await errno_of(sessions.authenticate(s.token)) == "20006"
    assert await errno_of(sessions.refresh(s.refresh_token)) == "20006"
    clock.advance(24 * 3600 + 1)
    await sessions.sweep()
    assert await errno_of(sessions.authenticate(s.token)) == "20004"


async def test_restart_restores_live_sessions_and_remembers_expired(
    db: async_sessionmaker,
) -> None:
    clock = FakeClock()
    first = manager(db, clock)
    live = await first.create("127.0.0.1", port=1, url="", urltag="0", version="2.0.0")
    dead = await first.create("127.0.0.1", port=2, url="", urltag="0", version="2.0.0")
    clock.advance(1000)
    await first.authenticate(live.token)
    await first.sweep()
    clock.advance(900)  # dead: idle 1900 s; live: idle 900 s
    second = manager(db, clock)
    restored = await second.load()
    assert [s.id for s in restored] == [live.id]
    assert (await second.authenticate(live.token)).port == 1
    assert await errno_of(second.authenticate(dead.token)) == "20006"


async def test_session_limit(db: async_sessionmaker) -> None:
    clock = FakeClock()
    sessions = SessionManager(db, clock, idle_seconds=1800, max_sessions=2)
    a = await sessions.create("127.0.0.1", port=1, url="", urltag="0", version="2.0.0")
    clock.advance(1)
    b = await sessions.create("127.0.0.1", port=1, url="", urltag="0", version="2.0.0")
    clock.advance(1)
    await sessions.authenticate(a.token)
    await sessions.create("127.0.0.1", port=1, url="", urltag="0", version="2.0.0")
    assert await errno_of(sessions.authenticate(b.token)) == "20004"
    await sessions.authenticate(a.token)


async def test_lockout_counts_blocks_expires_and_unlocks(db: async_sessionmaker) -> None:
    clock = FakeClock()
    guard = LoginLockout(db, clock, max_failures=5, block_seconds=600)
    for _ in range(4):
        await guard.failed("192.0.2.1")
    await guard.check("192.0.2.1")
    await guard.failed("192.0.2.1")
    assert await errno_of(guard.check("192.0.2.1")) == "20002"
    await guard.check("192.0.2.2")  # other addresses are not affected
    clock.advance(601)
    await guard.check("192.0.2.1")
    for _ in range(5):
        await guard.failed("192.0.2.1")
    assert [b.ip for b in await guard.blocked()] == ["192.0.2.1"]
    assert await unlock(db, "192.0.2.1")
    await guard.check("192.0.2.1")
    assert not await unlock(db, "192.0.2.1")


async def test_concurrent_failures_all_count(db: async_sessionmaker) -> None:
    import asyncio

    clock = FakeClock()
    guard = LoginLockout(db, clock, max_failures=5, block_seconds=600)
    await asyncio.gather(*(guard.failed("192.0.2.9") for _ in range(5)))
    assert await errno_of(guard.check("192.0.2.9")) == "20002"


async def test_refresh_never_hides_the_session(db: async_sessionmaker) -> None:
    import asyncio

    clock = FakeClock()
    sessions = manager(db, clock)
    s = await sessions.create("127.0.0.1", port=1, url="", urltag="0", version="2.0.0")
    seen: list[bool] = []

    async def watch() -> None:
        for _ in range(50):
            seen.append(sessions.get(s.id) is not None and len(sessions.live_sessions()) == 1)
            await asyncio.sleep(0)

    await asyncio.gather(watch(), sessions.refresh(s.refresh_token))
    assert all(seen)
