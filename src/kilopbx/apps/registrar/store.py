"""Write-behind persistence of bindings.

The REGISTER path only marks an extension dirty (a dict insert). A writer task wakes
when something is dirty, waits until ``flush_interval`` after the oldest pending mark,
and commits the current bindings of the dirty extensions (delete + insert per
extension, so a row set always equals the in-memory snapshot), oldest marks first.

A transaction takes at most ``MAX_BATCH`` extensions and inserts its rows with a few
multi-row statements, and with SQLite it runs wholly in a worker thread on a
connection of its own. Under a REGISTER flood the event loop keeps the GIL busy and
every round trip between the loop and aiosqlite's thread waits for both: one
executemany of hundreds of rows (a hand-over per row) used to take seconds while API
logins queued behind the write lock, and even a few statements through aiosqlite
took up to a second. A binding answered with 200 is on disk within a second under
any load (``flush_interval`` plus one short commit when the loop is not saturated);
``stop()`` flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.models import RegistrarBinding
from kilopbx.store.database import sqlite_thread_engine

log = logging.getLogger(__name__)

TABLE = cast(Table, RegistrarBinding.__table__)
MAX_BATCH = 200  # extensions per transaction
# rows per INSERT ... VALUES: 11 columns each stay under SQLite's historical limit of
# 999 bound variables per statement
ROWS_PER_INSERT = 80
RETRY_DELAY = 1.0

Snapshot = Callable[[str], list[Binding]]


def _row(binding: Binding) -> dict[str, object]:
    return {
        "number": binding.number,
        "contact": binding.uri,
        "call_id": binding.call_id,
        "cseq": binding.cseq,
        "expires_at": binding.expires_at,
        "transport": binding.transport,
        "host": binding.host,
        "port": binding.port,
        "user_agent": binding.user_agent[:255],
        "updated_at": binding.updated_at,
        "reachable": binding.reachable,
    }


COLUMNS = tuple(TABLE.columns.keys())


@functools.cache
def _delete_sql(count: int) -> str:
    return f"DELETE FROM {TABLE.name} WHERE number IN ({', '.join('?' * count)})"


@functools.cache
def _insert_sql(count: int) -> str:
    row = f"({', '.join('?' * len(COLUMNS))})"
    return f"INSERT INTO {TABLE.name} ({', '.join(COLUMNS)}) VALUES {', '.join([row] * count)}"


def _replace_rows(conn: Connection, numbers: list[str], rows: list[dict[str, object]]) -> None:
    # Core statements: the ORM's bulk path costs more CPU than the whole REGISTER
    # handling at a thousand registrations a second
    conn.execute(delete(TABLE).where(TABLE.c.number.in_(numbers)))
    for start in range(0, len(rows), ROWS_PER_INSERT):
        conn.execute(insert(TABLE).values(rows[start : start + ROWS_PER_INSERT]))


class BindingStore:
    def __init__(
        self, engine: AsyncEngine, snapshot: Snapshot, flush_interval: float = 0.05
    ) -> None:
        self._engine = engine
        self._thread_engine = sqlite_thread_engine(engine)
        self._snapshot = snapshot
        self.flush_interval = flush_interval
        # extension -> when it was first marked since its last commit; oldest first
        self._dirty: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.slowest_commit = 0.0  # seconds, for the benchmarks and the logs

    async def load(self) -> list[Binding]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(TABLE))).all()
        return [
            Binding(
                number=row.number,
                uri=row.contact,
                call_id=row.call_id,
                cseq=row.cseq,
                expires_at=row.expires_at,
                transport=row.transport,
                host=row.host,
                port=row.port,
                user_agent=row.user_agent,
                updated_at=row.updated_at,
                reachable=row.reachable,
            )
            for row in rows
        ]

    async def delete_expired(self, now: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(TABLE).where(TABLE.c.expires_at <= now))

    def mark(self, number: str) -> None:
        if number not in self._dirty:
            self._dirty[number] = time.monotonic()
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._dirty)

    async def start(self) -> None:
        if self._thread_engine is not None:  # connect now, not in the first busy moment
            await asyncio.to_thread(self._thread_engine.connect().close)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        finally:
            if self._thread_engine is not None:
                self._thread_engine.dispose()

    def _write_in_thread(self, numbers: list[str], rows: list[dict[str, object]]) -> None:
        # Plain SQL on the driver: in a thread that gets the GIL in 5 ms turns, compiling
        # a multi-row INSERT cost more than writing it.
        assert self._thread_engine is not None
        with self._thread_engine.begin() as conn:
            conn.exec_driver_sql(_delete_sql(len(numbers)), tuple(numbers))
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                values = tuple(row[column] for row in chunk for column in COLUMNS)
                conn.exec_driver_sql(_insert_sql(len(chunk)), values)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._dirty:
                # The deadline runs from the oldest mark, not from the last commit: a
                # backlog is written at once, batch after batch.
                oldest = next(iter(self._dirty.values()))
                delay = oldest + self.flush_interval - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing registrations failed; retrying")
                await asyncio.sleep(RETRY_DELAY)

    async def flush(self) -> None:
        """Commit every dirty extension's bindings now, ``MAX_BATCH`` per transaction."""
        self._wake.clear()
        while self._dirty:
            await self._commit_batch()

    async def _commit_batch(self) -> None:
        dirty = self._dirty
        batch = {number: dirty.pop(number) for number in list(dirty)[:MAX_BATCH]}
        numbers = list(batch)
        rows = [_row(b) for number in numbers for b in self._snapshot(number)]
        started = time.monotonic()
        try:
            if self._thread_engine is not None:
                await asyncio.to_thread(self._write_in_thread, numbers, rows)
            else:
                async with self._engine.begin() as conn:
                    await conn.run_sync(_replace_rows, numbers, rows)
        except BaseException:
            # Try again with the newest snapshot; marks made meanwhile keep their place
            # behind the older ones.
            self._dirty = {**batch, **{n: t for n, t in dirty.items() if n not in batch}}
            self._wake.set()
            raise
        self.commits += 1
        elapsed = time.monotonic() - started
        if elapsed > self.slowest_commit:
            self.slowest_commit = elapsed
            if elapsed > 1.0:
                log.warning("registrar: writing %d extensions took %.2f s", len(numbers), elapsed)
