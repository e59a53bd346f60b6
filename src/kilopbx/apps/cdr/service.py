"""The CDR service: the only code that writes call detail records.

`record()` commits a CDR and only then publishes its `NewCdr`, so a receiver never hears
of a record the database could still lose. SQLite runs in WAL mode with
synchronous=NORMAL: a committed CDR survives `kill -9`. The rows of calls that write at
the same moment share one transaction (``CdrWriter``, group commit).

Calls in progress are written as `OpenCall` rows (`record_open_call`). While any are
open, `keep_alive()` (called every `SEEN_INTERVAL` seconds by the feature) stamps them
with the time, so after a crash `close_open_calls_on_start()` knows, within that
interval, when they ended: it turns each into a CDR that says how far the call got
(`ANSWERED` with its talk time up to the crash, else `NO ANSWER`) and publishes it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import fields
from enum import Enum
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.apps.cdr.models import CallDetailRecord, OpenCall
from kilopbx.apps.cdr.writer import CdrWriter
from kilopbx.clock import Clock
from kilopbx.core.registry import Key
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import NewCdr
from kilopbx.events.call_model import (
    CallDisposition,
    CallFacts,
    CallRecord,
    CallType,
    OpenCallRecord,
)

log = logging.getLogger(__name__)

SEEN_INTERVAL = 10.0
BATCH = 500  # rows per step of a download: a few ms of the event loop each
FACT_NAMES = [f.name for f in fields(CallFacts)]
RECORD_NAMES = [f.name for f in fields(CallRecord)]


class CdrService:
    def __init__(self, db: async_sessionmaker[Any], bus: EventBus, clock: Clock) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._open: set[str] = set()
        self._writer = CdrWriter(db)

    @property
    def open_calls(self) -> int:
        return len(self._open)

    @property
    def commits(self) -> int:
        """Transactions the writer committed (each holds the writes of many calls)."""
        return self._writer.commits

    async def record_open_call(self, call: OpenCallRecord) -> None:
        """Remember a call in progress (again when it is answered): insert or replace,
        committed with the other calls' writes of the moment (``CdrWriter``). Queued
        before the first await, as `record` is: the engine relies on that for the
        order of a call's writes (``CallRecorder``)."""
        values = _column_values(call)
        values["seen_at"] = self._clock.now()
        await self._writer.open_row(values)
        self._open.add(call.call_id)

    async def record(self, record: CallRecord) -> int:
        """Commit one CDR (and forget the call's open row), then publish `NewCdr`;
        the CDR's row id. Raises if the database refuses the commit; nothing is
        published then."""
        values = _column_values(record)
        try:
            row_id = await self._writer.cdr_row(values)
        finally:
            # no more stamps either way: if the commit failed, the open row's last stamp
            # is close to the real end, and the next start turns it into a CDR
            self._open.discard(record.call_id)
        self._bus.publish(NewCdr(record))
        assert row_id is not None
        return row_id

    async def stop(self) -> None:
        """Commit what is queued (the calls ended by the engine's stop)."""
        await self._writer.stop()

    async def keep_alive(self) -> None:
        """Stamp the open calls with the time; nothing to write when none is open."""
        if not self._open:
            return
        async with self._db.begin() as db:
            stamped = update(OpenCall).where(OpenCall.call_id.in_(list(self._open)))
            await db.execute(stamped.values(seen_at=self._clock.now()))

    async def close_open_calls_on_start(self) -> list[CallDetailRecord]:
        """CDRs for the calls a crash cut off, committed together, then published in the
        order the calls started."""
        async with self._db.begin() as db:
            stale = list(await db.scalars(select(OpenCall).order_by(OpenCall.started_at)))
            if not stale:
                return []
            now = self._clock.now()
            records = [_cut_off(call, now) for call in stale]
            rows = [CallDetailRecord(**_column_values(record)) for record in records]
            db.add_all(rows)
            await db.execute(delete(OpenCall))
        log.warning("%d call(s) were in progress at the last stop: CDRs written", len(rows))
        for record in records:
            self._bus.publish(NewCdr(record))
        return rows

    async def batches(
        self, numbers: Sequence[str] | None, start: float, end: float, size: int = BATCH
    ) -> AsyncIterator[list[CallRecord]]:
        """Records that started within [start, end] whose caller or callee is one of
        `numbers` (all when None), oldest first, streamed `size` at a time so a year of
        records never sits in memory at once."""
        statement = _selected(numbers, start, end).order_by(
            CallDetailRecord.started_at, CallDetailRecord.id
        )
        async with self._db() as db:
            # plain rows, not ORM objects: a third of the time, no identity map to grow
            result = await db.stream(statement.execution_options(yield_per=size))
            async for rows in result.partitions(size):
                yield [to_record(row) for row in rows]

    async def select(
        self, numbers: Sequence[str] | None, start: float, end: float
    ) -> list[CallRecord]:
        return [record async for batch in self.batches(numbers, start, end) for record in batch]

    async def any_selected(self, numbers: Sequence[str] | None, start: float, end: float) -> bool:
        async with self._db() as db:
            return (await db.scalar(_selected(numbers, start, end).limit(1))) is not None


def _selected(numbers: Sequence[str] | None, start: float, end: float) -> Select[Any]:
    statement = select(*CallDetailRecord.__table__.columns).where(
        CallDetailRecord.started_at >= start, CallDetailRecord.started_at <= end
    )
    if numbers is not None:
        wanted = list(numbers)
        statement = statement.where(
            or_(CallDetailRecord.caller.in_(wanted), CallDetailRecord.callee.in_(wanted))
        )
    return statement


def _cut_off(call: OpenCall, now: float) -> CallRecord:
    facts = {name: getattr(call, name) for name in FACT_NAMES}
    try:
        facts["call_type"] = CallType(call.call_type)
    except ValueError:
        log.warning("open call %r has an unknown type; its CDR says Internal", call.call_id)
        facts["call_type"] = CallType.INTERNAL
    answered = call.answered_at is not None
    # never later than now: a stamp from a clock that ran ahead must not invent talk time
    last_known = min(max(call.seen_at, call.answered_at or call.started_at), now)
    disposition = CallDisposition.ANSWERED if answered else CallDisposition.NO_ANSWER
    return OpenCallRecord(**facts).closed(last_known, disposition)


def _column_values(facts: CallFacts) -> dict[str, Any]:
    """A record's fields as column values (enums stored by their wire value)."""
    values = {f.name: getattr(facts, f.name) for f in fields(facts)}
    return {name: v.value if isinstance(v, Enum) else v for name, v in values.items()}


def to_record(row: Any) -> CallRecord:
    """A CallRecord from a stored row (a mapped object or a plain result row)."""
    values = {name: getattr(row, name) for name in RECORD_NAMES}
    values["call_type"] = CallType(row.call_type)
    values["disposition"] = CallDisposition(row.disposition)
    return CallRecord(**values)


CDR: Key[CdrService] = Key("cdr")
