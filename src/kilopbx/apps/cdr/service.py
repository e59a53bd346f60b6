"""The CDR service: the only code that writes call detail records.

`record()` commits a CDR and only then publishes its `NewCdr`, so a receiver never hears
of a record the database could still lose. SQLite runs in WAL mode with
synchronous=NORMAL: a committed CDR survives `kill -9`.

Calls in progress are written as `OpenCall` rows (`record_open_call`). While any are
open, `keep_alive()` (called every `SEEN_INTERVAL` seconds by the feature) stamps them
with the time, so after a crash `close_open_calls_on_start()` knows, within that
interval, when they ended: it turns each into a CDR that says how far the call got
(`ANSWERED` with its talk time up to the crash, else `NO ANSWER`) and publishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.apps.cdr.models import CallDetailRecord, OpenCall
from kilopbx.clock import Clock
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import NewCdr
from kilopbx.events.call_model import (
    CallDisposition,
    CallRecord,
    CallType,
    OpenCallRecord,
)

log = logging.getLogger(__name__)

SEEN_INTERVAL = 10.0


class CdrService:
    def __init__(self, db: async_sessionmaker[Any], bus: EventBus, clock: Clock) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock
        self._open: set[str] = set()

    @property
    def open_calls(self) -> int:
        return len(self._open)

    async def record_open_call(self, call: OpenCallRecord) -> None:
        """Remember a call in progress (again when it is answered): insert or replace."""
        row = OpenCall(
            call_id=call.call_id,
            started_at=call.started_at,
            answered_at=call.answered_at,
            seen_at=self._clock.now(),
            caller=call.caller,
            callee=call.callee,
            call_type=call.call_type.value,
            source_trunk=call.source_trunk,
            destination_trunk=call.destination_trunk,
            pin_code=call.pin_code,
            recording=call.recording,
            did_number=call.did_number,
        )
        async with self._db.begin() as db:
            await db.merge(row)
        self._open.add(call.call_id)

    async def record(self, record: CallRecord) -> CallDetailRecord:
        """Commit one CDR (and forget the call's open row), then publish `NewCdr`."""
        row = _row(record)
        async with self._db.begin() as db:
            db.add(row)
            await db.execute(delete(OpenCall).where(OpenCall.call_id == record.call_id))
        self._open.discard(record.call_id)
        self._bus.publish(NewCdr(record))
        return row

    async def keep_alive(self) -> None:
        """Stamp the open calls with the time; nothing to write when none is open."""
        if not self._open:
            return
        async with self._db.begin() as db:
            await db.execute(update(OpenCall).values(seen_at=self._clock.now()))

    async def close_open_calls_on_start(self) -> list[CallDetailRecord]:
        """CDRs for the calls a crash cut off, committed together, then published in the
        order the calls started."""
        async with self._db.begin() as db:
            stale = list(await db.scalars(select(OpenCall).order_by(OpenCall.started_at)))
            if not stale:
                return []
            now = self._clock.now()
            records = [_cut_off(call, now) for call in stale]
            rows = [_row(record) for record in records]
            db.add_all(rows)
            await db.execute(delete(OpenCall))
        log.warning("%d call(s) were in progress at the last stop: CDRs written", len(rows))
        for record in records:
            self._bus.publish(NewCdr(record))
        return rows

    async def select(
        self, numbers: Sequence[str] | None, start: float, end: float
    ) -> list[CallRecord]:
        """Records that started within [start, end] whose caller or callee is one of
        `numbers` (all when None), oldest first."""
        statement = _selected(numbers, start, end).order_by(
            CallDetailRecord.started_at, CallDetailRecord.id
        )
        async with self._db() as db:
            return [to_record(row) for row in await db.scalars(statement)]

    async def any_selected(self, numbers: Sequence[str] | None, start: float, end: float) -> bool:
        async with self._db() as db:
            return (await db.scalar(_selected(numbers, start, end).limit(1))) is not None


def _selected(numbers: Sequence[str] | None, start: float, end: float) -> Select[Any]:
    statement = select(CallDetailRecord).where(
        CallDetailRecord.started_at >= start, CallDetailRecord.started_at <= end
    )
    if numbers is not None:
        wanted = list(numbers)
        statement = statement.where(
            or_(CallDetailRecord.caller.in_(wanted), CallDetailRecord.callee.in_(wanted))
        )
    return statement


def _cut_off(call: OpenCall, now: float) -> CallRecord:
    answered = call.answered_at is not None
    try:
        call_type = CallType(call.call_type)
    except ValueError:
        log.warning("open call %r has an unknown type; its CDR says Internal", call.call_id)
        call_type = CallType.INTERNAL
    open_call = OpenCallRecord(
        call_id=call.call_id,
        started_at=call.started_at,
        caller=call.caller,
        callee=call.callee,
        call_type=call_type,
        answered_at=call.answered_at,
        source_trunk=call.source_trunk,
        destination_trunk=call.destination_trunk,
        pin_code=call.pin_code,
        recording=call.recording,
        did_number=call.did_number,
    )
    # never later than now: a stamp from a clock that ran ahead must not invent talk time
    last_known = min(max(call.seen_at, call.answered_at or call.started_at), now)
    disposition = CallDisposition.ANSWERED if answered else CallDisposition.NO_ANSWER
    return open_call.closed(last_known, disposition)


def _row(record: CallRecord) -> CallDetailRecord:
    return CallDetailRecord(
        call_id=record.call_id,
        started_at=record.started_at,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        caller=record.caller,
        callee=record.callee,
        disposition=record.disposition.value,
        call_type=record.call_type.value,
        source_trunk=record.source_trunk,
        destination_trunk=record.destination_trunk,
        pin_code=record.pin_code,
        recording=record.recording,
        did_number=record.did_number,
        queue_wait_seconds=record.queue_wait_seconds,
    )


def to_record(row: CallDetailRecord) -> CallRecord:
    return CallRecord(
        call_id=row.call_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        caller=row.caller,
        callee=row.callee,
        disposition=CallDisposition(row.disposition),
        call_type=CallType(row.call_type),
        answered_at=row.answered_at,
        source_trunk=row.source_trunk,
        destination_trunk=row.destination_trunk,
        pin_code=row.pin_code,
        recording=row.recording,
        did_number=row.did_number,
        queue_wait_seconds=row.queue_wait_seconds,
    )
