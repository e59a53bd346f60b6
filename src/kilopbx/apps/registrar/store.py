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
took up to a second. ``stop()`` flushes what is left.

The store also remembers what the last commit of each extension wrote (contacts, paths
and expiries): ``covers`` tells whether the database already holds a set of bindings
well enough to be acknowledged, and ``when_committed`` calls back once an extension's
current bindings are on disk. ``kilopbx.apps.registrar.durable_ack`` holds a REGISTER's
200 on them, so nothing is acknowledged that a ``kill -9`` could lose.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.models import RegistrarBinding
from kilopbx.apps.registrar.stored_rows import Stored, holds, stored_rows
from kilopbx.store.database import sqlite_thread_engine

log = logging.getLogger(__name__)

TABLE = cast(Table, RegistrarBinding.__table__)
MAX_BATCH = 200  # extensions per transaction
# rows per INSERT ... VALUES: 11 columns each stay under SQLite's historical limit of
# 999 bound variables per statement
ROWS_PER_INSERT = 80
RETRY_DELAY = 1.0
HELD_INTERVAL = 0.01  # seconds a commit waits for company when a REGISTER waits for it

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


def _values(binding: Binding) -> tuple[object, ...]:
    """``_row(binding)`` as a tuple in ``COLUMNS`` order, without the dictionary (the
    commit of a busy second's refreshes builds thousands)."""
    return (
        binding.number,
        binding.uri,
        binding.call_id,
        binding.cseq,
        binding.expires_at,
        binding.transport,
        binding.host,
        binding.port,
        binding.user_agent[:255],
        binding.updated_at,
        binding.reachable,
    )


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
        self,
        engine: AsyncEngine,
        snapshot: Snapshot,
        flush_interval: float = 0.05,
        *,
        refresh_lag: float = 1.0,
    ) -> None:
        """``refresh_lag``: how much longer than the stored expiry a binding may be
        and still count as stored (``covers``). A refresh is written (``note``) once its
        expiry runs half that lag ahead of the stored one, so a busy phone's refreshes
        are answered at once and cost one row every ``refresh_lag / 2`` seconds, not one
        per REGISTER."""
        self._engine = engine
        self._thread_engine = sqlite_thread_engine(engine)
        self._snapshot = snapshot
        self.flush_interval = flush_interval
        # extension -> when it was first marked since its last commit; oldest first
        self._dirty: dict[str, float] = {}
        self._stored: dict[str, Stored] = {}  # as of the last commit (or the load)
        self._waiters: dict[str, list[Callable[[], None]]] = {}
        self.waiting = 0  # callbacks registered and not yet called
        self.refresh_lag = refresh_lag
        self.write_lag = refresh_lag / 2
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0
        self.slowest_commit = 0.0  # seconds, for the benchmarks and the logs

    async def load(self) -> list[Binding]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(TABLE))).all()
        bindings = [
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
        for binding in bindings:
            self._stored.setdefault(binding.number, {}).update(stored_rows([binding]))
        return bindings

    async def delete_expired(self, now: float) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(delete(TABLE).where(TABLE.c.expires_at <= now))
        for number, stored in list(self._stored.items()):
            kept = {uri: row for uri, row in stored.items() if row[3] > now}
            if kept:
                self._stored[number] = kept
            else:
                del self._stored[number]

    def covers(self, number: str, bindings: list[Binding]) -> bool:
        """Does the database hold exactly these contacts, each with the same path and an
        expiry at most ``refresh_lag`` shorter? A phone's refresh of an unchanged
        binding within that lag needs no commit before its 200."""
        return holds(self._stored.get(number), bindings, self.refresh_lag, True)

    def note(self, number: str) -> None:
        """The extension's bindings changed in memory: mark it for the writer unless the
        database holds them within ``write_lag`` (same contacts and paths, an expiry
        at most that much shorter and never longer). A refresh inside that lag is
        covered and acknowledged without a write; a later one is written behind."""
        if not holds(self._stored.get(number), self._snapshot(number), self.write_lag, False):
            self.mark(number)

    def when_committed(self, number: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once) after a commit of the extension's bindings as they
        are now. Callbacks of a failed commit wait for the retry."""
        self._waiters.setdefault(number, []).append(callback)
        self.waiting += 1
        self.mark(number)

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
        # a clean stop writes the refreshes ``note`` left behind, to the exact expiry
        for number in list(self._stored):
            if not holds(self._stored.get(number), self._snapshot(number), 0.0, False):
                self.mark(number)
        try:
            await self.flush()
        finally:
            if self._thread_engine is not None:
                self._thread_engine.dispose()

    def _write_in_thread(self, numbers: list[str], rows: list[tuple[object, ...]]) -> None:
        # Plain SQL on the driver: in a thread that gets the GIL in 5 ms turns, compiling
        # a multi-row INSERT cost more than writing it.
        assert self._thread_engine is not None
        with self._thread_engine.begin() as conn:
            conn.exec_driver_sql(_delete_sql(len(numbers)), tuple(numbers))
            for start in range(0, len(rows), ROWS_PER_INSERT):
                chunk = rows[start : start + ROWS_PER_INSERT]
                values = tuple(itertools.chain.from_iterable(chunk))
                conn.exec_driver_sql(_insert_sql(len(chunk)), values)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._dirty:
                # The deadline runs from the oldest mark, not from the last commit: a
                # backlog is written at once, batch after batch. A REGISTER waiting for
                # its 200 shortens the wait to HELD_INTERVAL, which still gathers the
                # REGISTERs of a busy moment into one commit.
                interval = HELD_INTERVAL if self.waiting else self.flush_interval
                oldest = next(iter(self._dirty.values()))
                delay = oldest + interval - time.monotonic()
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
        # the snapshot and the waiters it satisfies are taken together, before any await
        waiters = {n: w for n in numbers if (w := self._waiters.pop(n, None))}
        snapshot = {number: self._snapshot(number) for number in numbers}
        started = time.monotonic()
        try:
            if self._thread_engine is not None:
                values = [_values(b) for bindings in snapshot.values() for b in bindings]
                await asyncio.to_thread(self._write_in_thread, numbers, values)
            else:
                rows = [_row(b) for bindings in snapshot.values() for b in bindings]
                async with self._engine.begin() as conn:
                    await conn.run_sync(_replace_rows, numbers, rows)
        except BaseException:
            # Try again with the newest snapshot; marks made meanwhile keep their place
            # behind the older ones.
            self._dirty = {**batch, **{n: t for n, t in dirty.items() if n not in batch}}
            for number, callbacks in waiters.items():
                self._waiters[number] = callbacks + self._waiters.get(number, [])
            self._wake.set()
            raise
        self.commits += 1
        for number, bindings in snapshot.items():
            if bindings:
                self._stored[number] = stored_rows(bindings)
            else:
                self._stored.pop(number, None)
        for callbacks in waiters.values():
            self.waiting -= len(callbacks)
            for callback in callbacks:
                try:
                    callback()
                except Exception:
                    log.exception("registrar: a commit callback failed")
        elapsed = time.monotonic() - started
        if elapsed > self.slowest_commit:
            self.slowest_commit = elapsed
            if elapsed > 1.0:
                log.warning("registrar: writing %d extensions took %.2f s", len(numbers), elapsed)
