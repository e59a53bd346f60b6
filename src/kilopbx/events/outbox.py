"""The durable per-session event outbox.

Events are queued in memory first and written to the database by one writer task in
batches (one transaction per batch), then handed to the session's delivery worker.
Delivered rows are deleted by the same writer, batched with the inserts, so delivery
never waits on a commit; a crash re-sends only what was delivered since the last commit
(normally the last few milliseconds).

With SQLite a batch is written wholly in a worker thread on a connection of its own:
through aiosqlite every statement is a round trip that, while the loop is busy (a
REGISTER flood), waits for the loop and the GIL, and a batch then held SQLite's one
write lock for seconds, stalling the registrar's writes and API logins behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kilopbx.clock import Clock
from kilopbx.store.database import sqlite_thread_engine
from kilopbx.store.system_models import OutboxEvent

log = logging.getLogger(__name__)

TABLE = OutboxEvent.__tablename__
_INSERT = f"INSERT INTO {TABLE} (session_id, body, created_at) VALUES (?, ?, ?)"
COMMIT_INTERVAL = 0.01  # seconds
QUEUE_LIMIT = 10_000
PENDING_LIMIT = 100_000  # events waiting for the database, all sessions together
STOP_FLUSH_TIMEOUT = 5.0


class Outbox:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db = db
        bind = db.kw.get("bind")
        self._thread_engine = sqlite_thread_engine(bind if isinstance(bind, AsyncEngine) else None)
        self._clock = clock
        self._pending: list[tuple[int, str]] = []
        self._delivered: list[int] = []
        self._dropped = 0
        self._overflowed = 0  # events dropped from full session queues, in all
        self._pending_event = asyncio.Event()
        self.queues: dict[int, deque[tuple[int, str]]] = {}
        self._on_ready: Callable[[int], None] = lambda _sid: None
        self._writer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def on_ready(self, callback: Callable[[int], None]) -> None:
        """`callback(session_id)` runs when new events for that session are stored."""
        self._on_ready = callback

    async def load(self, live_session_ids: set[int]) -> None:
        async with self._db.begin() as db:
            rows = (await db.execute(select(OutboxEvent).order_by(OutboxEvent.id))).scalars()
            orphans: list[int] = []
            for row in rows:
                if row.session_id in live_session_ids:
                    self.queues.setdefault(row.session_id, deque()).append((row.id, row.body))
                else:
                    orphans.append(row.id)
            if orphans:
                await db.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(orphans)))

    def start(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.flush(), STOP_FLUSH_TIMEOUT)
        except TimeoutError:
            log.error("event outbox: %d events not stored at shutdown", len(self._pending))
        if self._writer is not None:
            self._writer.cancel()
        if self._thread_engine is not None:
            self._thread_engine.dispose()

    def enqueue(self, session_id: int, body: str) -> None:
        if len(self._pending) >= PENDING_LIMIT:
            # the database has not taken writes for a while; memory must stay bounded
            self._pending.pop(0)
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.error("event outbox: database not accepting writes; %d dropped", self._dropped)
        self._pending.append((session_id, body))
        self._idle.clear()
        self._pending_event.set()

    async def flush(self) -> None:
        """Wait until everything enqueued so far is stored."""
        if self._writer is None or self._writer.done():
            return
        await self._idle.wait()

    def mark_delivered(self, row_id: int) -> None:
        """The event got its 2xx: delete its row with the writer's next batch."""
        self._delivered.append(row_id)
        self._idle.clear()
        self._pending_event.set()

    async def discard_session(self, session_id: int) -> None:
        self.queues.pop(session_id, None)
        self._pending = [p for p in self._pending if p[0] != session_id]
        async with self._db.begin() as db:
            await db.execute(delete(OutboxEvent).where(OutboxEvent.session_id == session_id))

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        last = float("-inf")
        while True:
            await self._pending_event.wait()
            # at most one commit per COMMIT_INTERVAL: after a quiet spell at once, under
            # load with everything queued meanwhile (a call's events, several calls')
            if (wait := last + COMMIT_INTERVAL - loop.time()) > 0:
                await asyncio.sleep(wait)
            last = loop.time()
            self._pending_event.clear()
            batch, self._pending = self._pending, []
            delivered, self._delivered = self._delivered, []
            batch = self._make_room(batch, delivered)
            if batch or delivered:
                try:
                    await self._store(batch, delivered)
                except Exception:
                    log.exception("could not store %d events; retrying", len(batch))
                    self._pending = batch + self._pending
                    self._delivered = delivered + self._delivered
                    self._pending_event.set()
                    await asyncio.sleep(0.5)
                    continue
            if not self._pending and not self._delivered:
                self._idle.set()

    def _make_room(self, batch: list[tuple[int, str]], doomed: list[int]) -> list[tuple[int, str]]:
        """Keep each session's queue within QUEUE_LIMIT once ``batch`` is stored: its
        oldest queued events are dropped now and their rows added to ``doomed`` (deleted
        in the batch's own transaction); of a batch that alone is over the limit, its
        oldest events are not stored. A session whose receiver is down fills its queue
        within minutes of a busy hour, and from then on every batch would otherwise need
        a second transaction for the overflow."""
        counts = Counter(session_id for session_id, _ in batch)
        over = {sid: n - QUEUE_LIMIT for sid, n in counts.items() if n > QUEUE_LIMIT}
        if over:
            kept = []
            for session_id, body in batch:
                if over.get(session_id, 0) > 0:
                    over[session_id] -= 1
                else:
                    kept.append((session_id, body))
            dropped = len(batch) - len(kept)
            batch = kept
        else:
            dropped = 0
        for session_id, n in counts.items():
            queue = self.queues.get(session_id)
            excess = (len(queue) if queue else 0) + min(n, QUEUE_LIMIT) - QUEUE_LIMIT
            for _ in range(excess):
                assert queue is not None
                doomed.append(queue.popleft()[0])
                dropped += 1
        if dropped:
            self._overflowed += dropped
            if self._overflowed == dropped or self._overflowed % 10_000 < dropped:
                log.warning("event queue limit reached: %d oldest events dropped", self._overflowed)
        return batch

    def _store_in_thread(
        self, batch: list[tuple[int, str]], delivered: list[int], now: float
    ) -> list[int]:
        # Plain statements on the driver's cursor, no ORM unit of work: this thread
        # competes for the GIL with the event loop, a few events per call setup.
        assert self._thread_engine is not None
        with self._thread_engine.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                if delivered:
                    marks = ", ".join("?" * len(delivered))
                    cursor.execute(f"DELETE FROM {TABLE} WHERE id IN ({marks})", delivered)
                ids = []
                for session_id, body in batch:
                    cursor.execute(_INSERT, (session_id, body, now))
                    ids.append(int(cursor.lastrowid))
            finally:
                cursor.close()
        return ids

    async def _store(self, batch: list[tuple[int, str]], delivered: list[int]) -> None:
        now = self._clock.now()
        if self._thread_engine is not None:
            ids = await asyncio.to_thread(self._store_in_thread, batch, delivered, now)
        else:
            rows = [OutboxEvent(session_id=sid, body=body, created_at=now) for sid, body in batch]
            async with self._db.begin() as db:
                if delivered:
                    await db.execute(delete(OutboxEvent).where(OutboxEvent.id.in_(delivered)))
                db.add_all(rows)
                await db.flush()
            ids = [row.id for row in rows]
        touched: set[int] = set()
        for row_id, (session_id, body) in zip(ids, batch, strict=True):
            self.queues.setdefault(session_id, deque()).append((row_id, body))
            touched.add(session_id)
        for sid in touched:
            self._on_ready(sid)
