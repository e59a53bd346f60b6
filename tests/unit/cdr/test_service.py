"""The CDR service on a real (temporary) SQLite store."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.apps.cdr.models import OpenCall
from kilopbx.apps.cdr.service import CdrService
from kilopbx.clock import FakeClock
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import NewCdr
from kilopbx.events.call_model import CallDisposition, CallType, OpenCallRecord
from kilopbx.events.types import Event

T0 = 1_718_869_200.0


def call(call_id: str = "1718869200.731", **changes: object) -> OpenCallRecord:
    base = OpenCallRecord(
        call_id=call_id,
        started_at=T0,
        caller="0612345678",
        callee="2102",
        call_type=CallType.INBOUND,
        source_trunk="carrier-a",
        did_number="0581234500",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Published:
    def __init__(self, bus: EventBus) -> None:
        self.events: list[Event] = []
        bus.subscribe(self.events.append)

    @property
    def records(self) -> list[NewCdr]:
        return [e for e in self.events if isinstance(e, NewCdr)]


async def open_rows(db: async_sessionmaker) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(OpenCall)) or 0)


async def test_record_is_committed_before_new_cdr_is_published(
    db: async_sessionmaker, db_path: Path
) -> None:
    bus, clock = EventBus(), FakeClock(T0)
    seen_in_database: list[int] = []

    def check(event: Event) -> None:
        # another connection, as a crash right now would see the file
        with sqlite3.connect(db_path) as conn:
            seen_in_database.append(conn.execute("SELECT count(*) FROM cdr").fetchone()[0])

    bus.subscribe(check)
    published = Published(bus)
    service = CdrService(db, bus, clock)
    await service.record_open_call(call())
    answered = call(answered_at=T0 + 14)
    await service.record_open_call(answered)
    row_id = await service.record(answered.closed(T0 + 95, CallDisposition.ANSWERED))
    assert row_id > 0 and seen_in_database == [1]
    assert await open_rows(db) == 0 and service.open_calls == 0
    (event,) = published.records
    assert (event.call_id, event.record.talk_seconds, event.record.call_seconds) == (
        "1718869200.731",
        81,
        95,
    )


async def test_calls_cut_off_by_a_crash_get_cdrs_at_the_next_start(
    db: async_sessionmaker,
) -> None:
    clock = FakeClock(T0)
    before_crash = CdrService(db, EventBus(), clock)
    await before_crash.record_open_call(call("1718869200.731", answered_at=T0 + 5))
    await before_crash.record_open_call(call("1718869200.732", started_at=T0 + 1))
    clock.advance(30)
    await before_crash.keep_alive()
    clock.advance(600)  # the PBX was down for ten minutes: that is not talk time

    bus = EventBus()
    published = Published(bus)
    after = CdrService(db, bus, clock)
    rows = await after.close_open_calls_on_start()
    assert [r.call_id for r in rows] == ["1718869200.731", "1718869200.732"]
    answered, unanswered = (event.record for event in published.records)
    assert (answered.disposition, answered.talk_seconds, answered.call_seconds) == (
        CallDisposition.ANSWERED,
        25,
        30,
    )
    assert (unanswered.disposition, unanswered.talk_seconds) == (CallDisposition.NO_ANSWER, 0)
    assert answered.source_trunk == "carrier-a" and answered.did_number == "0581234500"
    assert await open_rows(db) == 0
    assert await after.close_open_calls_on_start() == []  # nothing twice


async def test_keep_alive_writes_nothing_without_open_calls(db: async_sessionmaker) -> None:
    clock = FakeClock(T0)
    service = CdrService(db, EventBus(), clock)
    await service.keep_alive()  # no open call: no write, no error
    await service.record_open_call(call())
    clock.advance(10)
    await service.keep_alive()
    async with db() as session:
        assert await session.scalar(select(OpenCall.seen_at)) == T0 + 10


async def test_hostile_open_call_rows_are_closed_without_failing_start(
    db: async_sessionmaker, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "INSERT INTO cdr_open_call VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            ("9.9", T0, T0 + 1, T0 + 10**9, "x" * 5000, "2102", "Bogus", "", "", "", "", ""),
        )
    clock = FakeClock(T0 + 60)
    published = Published(bus := EventBus())
    rows = await CdrService(db, bus, clock).close_open_calls_on_start()
    assert len(rows) == 1
    record = published.records[0].record
    assert record.call_type is CallType.INTERNAL
    assert record.talk_seconds == 59  # a stamp from the future is cut at now


async def test_select_by_number_and_window(db: async_sessionmaker) -> None:
    service = CdrService(db, EventBus(), FakeClock(T0))
    internal = call("1.1", caller="2101", callee="2102", call_type=CallType.INTERNAL)
    for n, open_call in enumerate(
        [internal, call("1.2", started_at=T0 + 100), call("1.3", started_at=T0 + 200)]
    ):
        await service.record(open_call.closed(open_call.started_at + n, CallDisposition.BUSY))
    assert [r.call_id for r in await service.select(None, T0, T0 + 200)] == ["1.1", "1.2", "1.3"]
    assert [r.call_id for r in await service.select(["2101"], T0, T0 + 200)] == ["1.1"]
    assert [r.call_id for r in await service.select(["2102"], T0 + 50, T0 + 150)] == ["1.2"]
    assert await service.select(["9999"], T0, T0 + 200) == []
    sizes = [len(batch) async for batch in service.batches(None, T0, T0 + 200, size=2)]
    assert sizes == [2, 1]


async def test_a_refused_commit_publishes_nothing_and_leaves_the_call_for_the_next_start(
    db: async_sessionmaker, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON cdr BEGIN SELECT RAISE(ABORT, 'full'); END"
        )
    clock = FakeClock(T0)
    published = Published(bus := EventBus())
    service = CdrService(db, bus, clock)
    await service.record_open_call(call())
    clock.advance(20)
    with pytest.raises(Exception, match="full"):
        await service.record(call().closed(T0 + 20, CallDisposition.NO_ANSWER))
    assert published.records == [] and await open_rows(db) == 1
    clock.advance(600)
    await service.keep_alive()  # the failed call is no longer stamped
    async with db() as session:
        assert await session.scalar(select(OpenCall.seen_at)) == T0


async def test_a_cdr_refused_while_another_process_holds_the_write_lock_is_tried_again(
    db: async_sessionmaker,
    db_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # another process holds the write lock (longer than the busy timeout would wait):
    # the CDR is committed once it lets go, not dropped
    # without a busy timeout a held lock refuses at once ("database is locked"), as it
    # does after 5 s in production
    from kilopbx.apps.cdr import writer

    monkeypatch.setattr(writer, "LOCKED_RETRY_PAUSES", (0.05,) * 40)
    monkeypatch.setattr(writer, "BUSY_TIMEOUT_MS", 0)
    bus, clock = EventBus(), FakeClock(T0)
    published = Published(bus)
    service = CdrService(db, bus, clock)
    await service.record_open_call(call())
    holder = sqlite3.connect(db_path, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, holder.rollback)
    try:
        await service.record(call().closed(T0 + 30, CallDisposition.NO_ANSWER))
    finally:
        holder.close()
    assert "database locked, trying again" in caplog.text
    assert len(published.records) == 1 and await open_rows(db) == 0
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM cdr").fetchone()[0] == 1


async def test_the_writes_of_calls_at_the_same_moment_share_one_commit(
    db: async_sessionmaker, db_path: Path
) -> None:
    published = Published(bus := EventBus())
    service = CdrService(db, bus, FakeClock(T0))
    calls = [call(f"1718869200.{n}") for n in range(40)]
    await asyncio.gather(*(service.record_open_call(c) for c in calls))
    assert service.commits < 10 and service.open_calls == 40 and await open_rows(db) == 40
    ended = [c.closed(T0 + 5, CallDisposition.NO_ANSWER) for c in calls]
    rows = await asyncio.gather(*(service.record(r) for r in ended))
    assert service.commits < 20 and len(set(rows)) == 40
    assert [e.call_id for e in published.records] == [c.call_id for c in calls]
    assert await open_rows(db) == 0 and service.open_calls == 0
    await service.stop()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM cdr").fetchone()[0] == 40


async def test_a_cdr_the_database_refuses_fails_alone_and_its_batch_is_kept(
    db: async_sessionmaker, db_path: Path
) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON cdr WHEN NEW.caller = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    published = Published(bus := EventBus())
    service = CdrService(db, bus, FakeClock(T0))
    records = [
        call(f"1.{n}", caller="bad" if n == 2 else "2101").closed(T0 + 1, CallDisposition.BUSY)
        for n in range(5)
    ]
    outcomes = await asyncio.gather(*(service.record(r) for r in records), return_exceptions=True)
    assert [isinstance(o, Exception) for o in outcomes] == [False, False, True, False, False]
    assert [e.call_id for e in published.records] == ["1.0", "1.1", "1.3", "1.4"]
    await service.stop()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM cdr").fetchone()[0] == 4


async def test_other_databases_take_the_same_batch_through_sqlalchemy(
    db: async_sessionmaker,
) -> None:
    published = Published(bus := EventBus())
    service = CdrService(db, bus, FakeClock(T0))
    service._writer._path = None  # as for PostgreSQL: no SQLite file to write in a thread
    calls = [call(f"1.{n}") for n in range(5)]
    await asyncio.gather(*(service.record_open_call(c) for c in calls))
    assert await open_rows(db) == 5
    records = [c.closed(T0 + 3, CallDisposition.NO_ANSWER) for c in calls]
    rows = await asyncio.gather(*(service.record(r) for r in records))
    assert all(r > 0 for r in rows) and len(published.records) == 5
    assert await open_rows(db) == 0 and service.commits == 2
