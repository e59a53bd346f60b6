"""Write-behind persistence of bindings.

The REGISTER path only marks an extension dirty (a dict insert). A writer task wakes
when something is dirty, waits until ``flush_interval`` after the oldest pending mark,
and commits the current bindings of the dirty extensions (delete + insert per
extension, so a row set always equals the in-memory snapshot), oldest marks first.

A transaction takes at most ``MAX_BATCH`` extensions and inserts its rows with a few
multi-row statements. Both bound the time SQLite's write lock is held and, above all,
the number of round trips to the driver's thread: under a REGISTER flood the event
loop keeps the GIL busy, every round trip waits for it, and one executemany of
hundreds of rows (one GIL hand-over per row) used to take seconds while API logins
queued behind the lock. A binding answered with 200 is on disk within
``flush_interval`` plus a few short commits; ``stop()`` flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.models import RegistrarBinding

log = logging.getLogger(__name__)

TABLE = RegistrarBinding.__table__
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


class BindingStore:
    def __init__(
        self, engine: AsyncEngine, snapshot: Snapshot, flush_interval: float = 0.05
    ) -> None:
        self._engine = engine
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

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

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
        started = time.monotonic()
        try:
            # Core statements on a plain connection: the ORM's bulk path costs more
            # CPU than the whole REGISTER handling at a thousand registrations a second
            async with self._engine.begin() as conn:
                await conn.execute(delete(TABLE).where(TABLE.c.number.in_(numbers)))
                rows = [_row(b) for number in numbers for b in self._snapshot(number)]
                for start in range(0, len(rows), ROWS_PER_INSERT):
                    await conn.execute(insert(TABLE).values(rows[start : start + ROWS_PER_INSERT]))
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
