"""The write-behind store knows what the database holds, and a REGISTER's 200 waits for
the commit of a change (``DurableAck``); refreshes the database already covers do not."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from kilopbx.apps.registrar import store as store_module
from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.durable_ack import MAX_WAITING, DurableAck
from kilopbx.apps.registrar.store import BindingStore
from kilopbx.store.database import create_engine, migrate

NOW = 1_800_000_000.0


def binding(uri: str = "sip:2001@10.0.0.5:5060", expires_at: float = NOW + 300) -> Binding:
    return Binding(
        number="2001",
        uri=uri,
        call_id="c1",
        cseq=1,
        expires_at=expires_at,
        transport="udp",
        host="10.0.0.5",
        port=5060,
        updated_at=NOW,
    )


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, list[Binding]] = {}

    def __call__(self, number: str) -> list[Binding]:
        return list(self.rows.get(number, ()))


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[tuple[BindingStore, Table]]:
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    await migrate(engine)
    table = Table()
    store = BindingStore(engine, table, flush_interval=0.05, refresh_lag=1.0)
    await store.start()
    yield store, table
    await store.stop()
    await engine.dispose()


def on_disk(db_path: Path) -> set[tuple[str, str, float]]:
    database = sqlite3.connect(db_path)
    try:
        return set(database.execute("SELECT number, contact, expires_at FROM registrar_binding"))
    finally:
        database.close()


async def wait_for(predicate: Callable[[], bool]) -> None:
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 2 s")


async def test_waiter_is_called_after_the_commit_without_the_flush_delay(
    store: tuple[BindingStore, Table], db_path: Path
) -> None:
    bindings, table = store
    bindings.flush_interval = 30.0  # a waiting REGISTER does not wait for the interval
    table.rows["2001"] = [binding()]
    assert not bindings.covers("2001", table("2001"))
    seen: list[set[tuple[str, str, float]]] = []
    bindings.when_committed("2001", lambda: seen.append(on_disk(db_path)))
    assert bindings.waiting == 1
    await wait_for(lambda: bool(seen))
    assert seen == [{("2001", "sip:2001@10.0.0.5:5060", NOW + 300)}]
    assert bindings.waiting == 0
    assert bindings.covers("2001", table("2001"))


async def test_covers_refreshes_within_the_lag_only(store: tuple[BindingStore, Table]) -> None:
    bindings, table = store
    table.rows["2001"] = [binding()]
    done: list[int] = []
    bindings.when_committed("2001", lambda: done.append(1))
    await wait_for(lambda: bool(done))
    assert bindings.covers("2001", [binding(expires_at=NOW + 301)])
    assert not bindings.covers("2001", [binding(expires_at=NOW + 301.5)])
    assert bindings.covers("2001", [binding(expires_at=NOW + 200)])
    moved = replace(binding(), port=5062)
    assert not bindings.covers("2001", [moved])  # a new path must be stored
    assert not bindings.covers("2001", [])  # so must a removal
    assert not bindings.covers("2001", [binding(), binding("sip:2001@10.0.0.6")])
    assert bindings.covers("2002", [])


async def test_a_change_during_the_commit_waits_for_the_next_one(
    store: tuple[BindingStore, Table], db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindings, table = store
    writing, go_on = threading.Event(), threading.Event()
    real = bindings._write_in_thread

    def slow(numbers: list[str], rows: list[dict[str, object]]) -> None:
        writing.set()
        go_on.wait(5)
        real(numbers, rows)

    monkeypatch.setattr(bindings, "_write_in_thread", slow)
    table.rows["2001"] = [binding()]
    first: list[set[tuple[str, str, float]]] = []
    seen: list[set[tuple[str, str, float]]] = []
    bindings.when_committed("2001", lambda: first.append(on_disk(db_path)))
    await wait_for(writing.is_set)  # the snapshot is taken, the commit under way
    table.rows["2001"] = [binding("sip:2001@10.0.0.7:5060")]
    bindings.when_committed("2001", lambda: seen.append(on_disk(db_path)))
    go_on.set()
    await wait_for(lambda: bool(seen))
    assert first == [{("2001", "sip:2001@10.0.0.5:5060", NOW + 300)}]
    assert seen == [{("2001", "sip:2001@10.0.0.7:5060", NOW + 300)}]


async def test_a_failed_commit_keeps_its_waiters_for_the_retry(
    store: tuple[BindingStore, Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    bindings, table = store
    table.rows["2001"] = [binding()]
    failures = [1]
    real = bindings._write_in_thread

    def flaky(numbers: list[str], rows: list[dict[str, object]]) -> None:
        if failures:
            failures.pop()
            raise OSError("disk full")
        real(numbers, rows)

    monkeypatch.setattr(bindings, "_write_in_thread", flaky)
    monkeypatch.setattr("kilopbx.apps.registrar.store.RETRY_DELAY", 0.05)
    done: list[int] = []
    bindings.when_committed("2001", lambda: done.append(1))
    await wait_for(lambda: bool(done))
    assert not failures and bindings.waiting == 0


async def test_load_knows_what_is_stored(store: tuple[BindingStore, Table], db_path: Path) -> None:
    bindings, table = store
    table.rows["2001"] = [binding(), binding("sip:2001@10.0.0.9", expires_at=NOW - 10)]
    done: list[int] = []
    bindings.when_committed("2001", lambda: done.append(1))
    await wait_for(lambda: bool(done))
    fresh = BindingStore(bindings._engine, table)
    assert len(await fresh.load()) == 2
    assert fresh.covers("2001", table("2001"))
    await fresh.delete_expired(NOW)
    assert fresh.covers("2001", [binding()])  # the expired row is gone from disk too


async def test_note_writes_a_refresh_only_once_it_runs_half_the_lag_ahead(
    store: tuple[BindingStore, Table],
) -> None:
    bindings, table = store
    table.rows["2001"] = [binding()]
    bindings.note("2001")  # a new binding is always written
    assert bindings.pending == 1
    await bindings.flush()
    table.rows["2001"] = [binding(expires_at=NOW + 300.5)]
    bindings.note("2001")
    assert bindings.pending == 0  # within write_lag (0.5 s): no write, and covered
    assert bindings.covers("2001", table("2001"))
    table.rows["2001"] = [binding(expires_at=NOW + 300.6)]
    bindings.note("2001")
    assert bindings.pending == 1  # beyond it: written behind, still covered meanwhile
    assert bindings.covers("2001", table("2001"))
    await bindings.flush()
    table.rows["2001"] = [binding(expires_at=NOW + 100)]
    bindings.note("2001")
    assert bindings.pending == 1  # a shortened expiry is written, never left longer
    await bindings.flush()
    table.rows["2001"] = [replace(binding(expires_at=NOW + 100), port=5062)]
    bindings.note("2001")
    assert bindings.pending == 1  # so is a new path
    await bindings.flush()
    table.rows["2001"] = []
    bindings.note("2001")
    assert bindings.pending == 1  # and a removal


async def test_a_clean_stop_writes_the_refreshes_note_left_behind(
    store: tuple[BindingStore, Table], db_path: Path
) -> None:
    bindings, table = store
    table.rows["2001"] = [binding()]
    bindings.note("2001")
    await bindings.flush()
    table.rows["2001"] = [binding(expires_at=NOW + 300.25)]
    bindings.note("2001")
    assert bindings.pending == 0
    await bindings.stop()
    assert on_disk(db_path) == {("2001", "sip:2001@10.0.0.5:5060", NOW + 300.25)}


class FakeStore:
    def __init__(self, covered: bool, waiting: int = 0) -> None:
        self.covered = covered
        self.waiting = waiting
        self.callbacks: list[Callable[[], None]] = []

    def covers(self, _number: str, _bindings: list[Binding]) -> bool:
        return self.covered

    def when_committed(self, _number: str, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)


class FakeTimers:
    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = 0
        self.now = 0.0  # the gate's clock

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimers:
        self.pending.append((delay, callback))
        return self

    def cancel(self) -> None:
        self.cancelled += 1


def gate(store: FakeStore, timers: FakeTimers) -> DurableAck:
    return DurableAck(
        store,  # type: ignore[arg-type]
        wait_limit=4.0,
        call_later=timers.call_later,
        clock=lambda: timers.now,
    )


Answers = list[tuple[int, str, list[tuple[str, str]]]]


def test_gate_answers_a_covered_refresh_at_once() -> None:
    timers, answers = FakeTimers(), []
    gate(FakeStore(covered=True), timers).acknowledge(
        "2001", [], lambda: answers.append(200), lambda *_a: answers.append(503)
    )
    assert answers == [200] and not timers.pending


def test_gate_holds_a_change_until_the_commit() -> None:
    store, timers, answers = FakeStore(covered=False), FakeTimers(), []
    ack = gate(store, timers)
    ack.acknowledge("2001", [], lambda: answers.append(200), lambda *_a: answers.append(503))
    assert answers == [] and ack.held == 1 and timers.pending[0][0] == 4.0
    store.callbacks[0]()
    store.callbacks[0]()  # at most one answer
    timers.now = 4.0
    timers.pending[0][1]()  # the sweep came anyway: nothing more, and no new timer
    assert answers == [200] and ack.held == 0 and ack.refused == 0 and len(timers.pending) == 1


def test_gate_refuses_when_the_commit_is_too_late() -> None:
    store, timers = FakeStore(covered=False), FakeTimers()
    answers: Answers = []
    ack = gate(store, timers)
    ack.acknowledge("2001", [], lambda: None, lambda *a: answers.append(a))
    timers.now = 4.0
    timers.pending[0][1]()
    store.callbacks[0]()  # the commit came after the 503: no 200
    assert answers == [(503, "Registration Not Stored", [("Retry-After", "5")])]
    assert ack.held == 0 and ack.refused == 1


def test_gate_refuses_when_too_many_wait() -> None:
    store, timers = FakeStore(covered=False, waiting=MAX_WAITING), FakeTimers()
    answers: Answers = []
    gate(store, timers).acknowledge("2001", [], lambda: None, lambda *a: answers.append(a))
    assert answers[0][0] == 503 and not store.callbacks and not timers.pending


def test_one_sweep_timer_serves_every_held_register() -> None:
    """Held REGISTERs share one timer: answered ones are forgotten at the next sweep,
    late ones refused at their own deadline, and the sweep wakes for the next one."""
    store, timers = FakeStore(covered=False), FakeTimers()
    answers: list[object] = []
    ack = gate(store, timers)
    for n in range(3):
        timers.now = float(n)
        ack.acknowledge(
            "2001",
            [],
            lambda n=n: answers.append(("200", n)),
            lambda *_a, n=n: answers.append(("503", n)),
        )
    assert len(timers.pending) == 1 and ack.held == 3
    store.callbacks[0]()  # the first is committed in time
    timers.now = 4.0
    timers.pending[-1][1]()  # the first one's deadline: answered already
    assert answers == [("200", 0)] and timers.pending[-1][0] == 1.0  # wakes at the second's
    timers.now = 5.0
    timers.pending[-1][1]()
    assert answers == [("200", 0), ("503", 1)] and ack.held == 1 and ack.refused == 1
    store.callbacks[2]()
    timers.now = 6.0
    timers.pending[-1][1]()
    assert answers == [("200", 0), ("503", 1), ("200", 2)] and ack.held == 0
    assert len(timers.pending) == 3  # nothing left: no more timers


def test_the_values_written_are_the_rows_columns_in_order() -> None:
    binding = Binding(
        number="2001", uri="sip:2001@10.0.0.5:5062", call_id="c@x", cseq=7, expires_at=123.5,
        transport="udp", host="10.0.0.5", port=5062, user_agent="x" * 300, updated_at=100.0,
        reachable=False,
    )  # fmt: skip
    row = store_module._row(binding)
    assert store_module._values(binding) == tuple(row[column] for column in store_module.COLUMNS)
