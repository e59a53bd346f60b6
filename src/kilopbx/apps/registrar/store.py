"""Write-behind persistence of bindings.

The REGISTER path only marks an extension dirty (a set insert). A writer task wakes
when something is dirty, waits ``flush_interval`` to gather more, and commits the
current bindings of every dirty extension in one transaction (delete + insert per
extension, so a row set always equals the in-memory snapshot). A binding answered
with 200 is therefore on disk within ``flush_interval`` plus one commit; ``stop()``
flushes what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from kilopbx.apps.registrar.core import Binding
from kilopbx.apps.registrar.models import RegistrarBinding

log = logging.getLogger(__name__)

TABLE = cast(Table, RegistrarBinding.__table__)
CHUNK = 400  # extensions per DELETE ... IN (...)
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
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0

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
        self._dirty.add(number)
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
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing registrations failed; retrying")
                await asyncio.sleep(RETRY_DELAY)

    async def flush(self) -> None:
        """Commit every dirty extension's bindings now."""
        self._wake.clear()
        if not self._dirty:
            return
        numbers, self._dirty = sorted(self._dirty), set()
        try:
            # Core statements on a plain connection: the ORM's bulk path costs more
            # CPU than the whole REGISTER handling at a thousand registrations a second
            async with self._engine.begin() as conn:
                for start in range(0, len(numbers), CHUNK):
                    chunk = numbers[start : start + CHUNK]
                    await conn.execute(delete(TABLE).where(TABLE.c.number.in_(chunk)))
                rows = [_row(b) for number in numbers for b in self._snapshot(number)]
                if rows:
                    await conn.execute(insert(TABLE), rows)
        except BaseException:
            self._dirty.update(numbers)  # try again with the newest snapshot
            self._wake.set()
            raise
        self.commits += 1
