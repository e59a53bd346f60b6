"""Group commit of the CDR tables: the rows of many calls in one transaction.

Every call writes three times (its open row when it starts ringing, again when it is
answered, its CDR with the removal of its open row when it ends). One SQLAlchemy
session and commit per write cost more CPU than the rest of the call's signalling
(docs/benchmarks.md, the call-path profile), so the writes are queued and one writer
commits whatever is queued in one transaction, in the order it was queued (a call's
rows therefore land in order too). Nothing waits on purpose: the queue fills while
the previous batch commits, so batches grow with the load and a lone call still
commits at once.

"Written" means committed: each write's future resolves only after the transaction
that holds it committed (SQLite in WAL mode with synchronous=NORMAL, so it survives
``kill -9`` of the PBX), and the CDR service publishes ``NewCdr`` only then.

With an SQLite file the batch runs wholly in a worker thread on a plain ``sqlite3``
connection of its own (BEGIN IMMEDIATE, a few prepared statements, COMMIT): no ORM
unit of work, no round trip between the loop and aiosqlite per statement. Other
databases take the same batch through one SQLAlchemy transaction.

A batch that the database refuses for another reason than its lock is written again
one write per transaction, so a row the database rejects (a trigger, a constraint)
fails alone and the other calls' rows are kept. A lock held by another process longer
than the busy timeout is waited out with ``LOCKED_RETRY_PAUSES`` before the batch fails.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, delete
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from kilopbx.apps.cdr.models import CallDetailRecord, OpenCall
from kilopbx.store.database import sqlite_file, write_transaction

log = logging.getLogger(__name__)

CDR_TABLE = cast(Table, CallDetailRecord.__table__)
OPEN_TABLE = cast(Table, OpenCall.__table__)
CDR_COLUMNS = tuple(c.name for c in CDR_TABLE.columns if c.name != "id")
OPEN_COLUMNS = tuple(c.name for c in OPEN_TABLE.columns)
# a CDR the database refuses because another process holds its write lock longer
# than the busy timeout is tried again, with these pauses, before it is given up
LOCKED_RETRY_PAUSES = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)
BUSY_TIMEOUT_MS = 5000  # as the main engine's connections (store/database.py)
MAX_BATCH = 500  # writes per transaction
# At most one commit per this many seconds: a write after a quiet spell commits at once,
# under load the writes of this interval share a commit (each commit rewrites the same
# few table and index pages in the WAL, whatever the number of rows)
COMMIT_INTERVAL = 0.01

_INSERT_CDR = (
    f"INSERT INTO {CDR_TABLE.name} ({', '.join(CDR_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(CDR_COLUMNS))})"
)
_REPLACE_OPEN = (
    f"INSERT OR REPLACE INTO {OPEN_TABLE.name} ({', '.join(OPEN_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(OPEN_COLUMNS))})"
)
_DELETE_OPEN = f"DELETE FROM {OPEN_TABLE.name} WHERE call_id = ?"


@dataclass
class Write:
    """One queued write: an open row to insert or replace, or a CDR to insert with the
    removal of its call's open row. ``done`` gets the CDR's row id (None for open rows)."""

    values: dict[str, Any]
    final: bool
    done: asyncio.Future[int | None] = field(repr=False)


class CdrWriter:
    def __init__(self, db: async_sessionmaker[Any]) -> None:
        self._db = db
        bind = db.kw.get("bind")
        self._path = sqlite_file(bind if isinstance(bind, AsyncEngine) else None)
        self._conn: sqlite3.Connection | None = None
        self._queue: list[Write] = []
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # transactions, for the benchmarks
        self._last_commit = float("-inf")  # loop time the last batch finished

    def open_row(self, values: dict[str, Any]) -> asyncio.Future[int | None]:
        return self._submit(values, final=False)

    def cdr_row(self, values: dict[str, Any]) -> asyncio.Future[int | None]:
        return self._submit(values, final=True)

    def _submit(self, values: dict[str, Any], *, final: bool) -> asyncio.Future[int | None]:
        loop = asyncio.get_running_loop()
        write = Write(values, final, loop.create_future())
        self._queue.append(write)
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())
        return write.done

    async def stop(self) -> None:
        """Let the queued writes commit, then close the writer's connection."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await asyncio.to_thread(conn.close)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if (wait := self._last_commit + COMMIT_INTERVAL - loop.time()) > 0:
                await asyncio.sleep(wait)
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            try:
                ids = await self._commit_retrying(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _fail(batch[0], exc)
                    continue
                log.warning("CDR batch of %d refused (%s): one write at a time", len(batch), exc)
                for write in batch:
                    try:
                        (row_id,) = await self._commit_retrying([write])
                    except Exception as alone:
                        _fail(write, alone)
                    else:
                        _resolve(write, row_id)
                continue
            finally:
                self._last_commit = loop.time()
            for write, row_id in zip(batch, ids, strict=True):
                _resolve(write, row_id)

    async def _commit_retrying(self, batch: list[Write]) -> list[int | None]:
        for pause in (*LOCKED_RETRY_PAUSES, None):
            try:
                if self._path is not None:
                    return await asyncio.to_thread(self._commit_in_thread, batch)
                return await self._commit_async(batch)
            except (sqlite3.OperationalError, OperationalError) as exc:
                if pause is None or "locked" not in str(exc):
                    raise
                log.warning("CDR batch of %d: database locked, trying again", len(batch))
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    def _commit_in_thread(self, batch: Sequence[Write]) -> list[int | None]:
        conn = self._conn
        if conn is None:
            assert self._path is not None
            conn = sqlite3.connect(
                self._path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                check_same_thread=False,
            )  # fmt: skip
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn = conn
        ids: list[int | None] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for write in batch:
                values = write.values
                if write.final:
                    cursor = conn.execute(_INSERT_CDR, [values[c] for c in CDR_COLUMNS])
                    ids.append(cursor.lastrowid)
                    conn.execute(_DELETE_OPEN, (values["call_id"],))
                else:
                    conn.execute(_REPLACE_OPEN, [values[c] for c in OPEN_COLUMNS])
                    ids.append(None)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.commits += 1
        return ids

    async def _commit_async(self, batch: Sequence[Write]) -> list[int | None]:
        ids: list[int | None] = []
        async with write_transaction(self._db) as db:
            for write in batch:
                values = write.values
                if write.final:
                    row = CallDetailRecord(**values)
                    db.add(row)
                    await db.flush()
                    ids.append(row.id)
                    call_id = values["call_id"]
                    await db.execute(delete(OPEN_TABLE).where(OPEN_TABLE.c.call_id == call_id))
                else:
                    await db.merge(OpenCall(**values))
                    ids.append(None)
        self.commits += 1
        return ids


def _resolve(write: Write, row_id: int | None) -> None:
    if not write.done.done():
        write.done.set_result(row_id)


def _fail(write: Write, exc: Exception) -> None:
    if not write.done.done():
        write.done.set_exception(exc)
