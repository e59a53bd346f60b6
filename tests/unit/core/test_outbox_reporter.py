"""The outbox and reporter on a real (temporary) SQLite store, without HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.api.sessions import SessionManager
from kilopbx.clock import FakeClock
from kilopbx.events.outbox import Outbox
from kilopbx.events.reporter import EventReporter
from kilopbx.events.types import ConfigChange
from kilopbx.store.database import create_engine, migrate, session_factory
from kilopbx.store.system_models import OutboxEvent


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[async_sessionmaker]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


async def stored(db: async_sessionmaker) -> int:
    async with db() as session:
        return int((await session.execute(select(func.count(OutboxEvent.id)))).scalar_one())


async def test_events_are_stored_once_per_live_session_and_survive_a_new_outbox(
    db: async_sessionmaker,
) -> None:
    clock = FakeClock()
    sessions = SessionManager(db, clock, idle_seconds=1800, max_sessions=32)
    # nothing listens on port 9: deliveries fail and everything stays queued
    live = await sessions.create("127.0.0.1", port=9, url="", urltag="0", version="2.0.0")
    outbox = Outbox(db, clock)
    reporter = EventReporter(outbox, sessions, "SN", retry_max=60)
    outbox.start()
    for number in ("2001", "2002", "2003"):
        reporter(ConfigChange("extension", number, "add"))
    await outbox.flush()
    assert await stored(db) == 3
    await reporter.stop()
    await outbox.stop()
    again = Outbox(db, clock)
    await again.load({live.id})
    extids = [json.loads(body)["extid"] for _id, body in again.queues[live.id]]
    assert extids == ["2001", "2002", "2003"]


async def test_a_batch_stored_after_its_session_ended_is_discarded(
    db: async_sessionmaker,
) -> None:
    clock = FakeClock()
    sessions = SessionManager(db, clock, idle_seconds=1800, max_sessions=32)
    outbox = Outbox(db, clock)
    reporter = EventReporter(outbox, sessions, "SN")
    outbox.start()
    outbox.enqueue(4242, '{"event": "BootUp"}')  # session 4242 no longer exists
    await outbox.flush()

    async def emptied() -> None:
        while await stored(db) or 4242 in outbox.queues:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(emptied(), 5)
    assert not reporter._workers
    await reporter.stop()
    await outbox.stop()


async def test_new_events_do_not_cut_a_failed_delivery_s_backoff_short(
    db: async_sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kilopbx.events import reporter as reporter_module

    attempts: list[str] = []
    tried = asyncio.Event()

    async def refused(url: str, body: bytes) -> int:
        attempts.append(url)
        tried.set()
        raise reporter_module.DeliveryError("connection refused")

    monkeypatch.setattr(reporter_module, "post_event", refused)
    clock = FakeClock()
    sessions = SessionManager(db, clock, idle_seconds=1800, max_sessions=32)
    live = await sessions.create("127.0.0.1", port=9, url="", urltag="0", version="2.0.0")
    outbox = Outbox(db, clock)
    reporter = EventReporter(outbox, sessions, "SN", retry_max=60)
    outbox.start()
    try:
        reporter(ConfigChange("extension", "2001", "add"))
        await asyncio.wait_for(tried.wait(), 5)
        # a busy PBX: a new batch of events every 20 ms, for less than the 1 s backoff
        for n in range(20):
            reporter(ConfigChange("extension", str(3000 + n), "add"))
            await outbox.flush()
            await asyncio.sleep(0.02)
        assert len(attempts) == 1  # the receiver is not dialled again before its time
        tried.clear()
        reporter.session_target_changed(live)  # a heartbeat names a new target: at once
        await asyncio.wait_for(tried.wait(), 0.5)
        assert len(attempts) == 2
    finally:
        await reporter.stop()
        await outbox.stop()


async def test_a_full_queue_drops_its_oldest_events_with_the_batch(
    db: async_sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session whose receiver is down keeps only the newest QUEUE_LIMIT events, in
    memory and in the database alike, and a reopened outbox finds exactly those."""
    from kilopbx.events import outbox as outbox_module

    monkeypatch.setattr(outbox_module, "QUEUE_LIMIT", 5)
    clock = FakeClock()
    sessions = SessionManager(db, clock, idle_seconds=1800, max_sessions=32)
    live = await sessions.create("127.0.0.1", port=9, url="", urltag="0", version="2.0.0")
    other = await sessions.create("127.0.0.1", port=9, url="", urltag="1", version="2.0.0")
    outbox = Outbox(db, clock)
    outbox.start()
    try:
        for n in range(4):
            outbox.enqueue(live.id, f"early{n}")
        await outbox.flush()
        outbox.enqueue(other.id, "other")
        for n in range(8):  # this batch alone is over the limit
            outbox.enqueue(live.id, f"late{n}")
        await outbox.flush()
        kept = [body for _id, body in outbox.queues[live.id]]
        assert kept == [f"late{n}" for n in range(3, 8)]
        async with db() as session:
            query = select(OutboxEvent.body).where(OutboxEvent.session_id == live.id)
            rows = (await session.execute(query.order_by(OutboxEvent.id))).scalars().all()
        assert rows == kept
        again = Outbox(db, clock)
        await again.load({live.id, other.id})
        assert [body for _id, body in again.queues[live.id]] == kept
        assert [body for _id, body in again.queues[other.id]] == ["other"]
        for n in range(3):  # later batches push out the oldest queued ones
            outbox.enqueue(live.id, f"last{n}")
        await outbox.flush()
        assert [body for _id, body in outbox.queues[live.id]] == [
            "late6", "late7", "last0", "last1", "last2"
        ]  # fmt: skip
        assert await stored(db) == 6
    finally:
        await outbox.stop()
