"""A call's CDR writes land in the order the call made them (its open row at the ring,
again at the answer, its CDR at the end), even when they follow each other within one
step of the event loop while the writer is busy committing other calls: the engine's
reporter (``CallReporter``) and the real CDR service on a temporary SQLite store."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.apps.cdr.service import CdrService
from kilopbx.clock import FakeClock
from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.call_reporting import CallReporter
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import NewCdr

T0 = 1_718_869_200.0


def ringing(n: int) -> CallRecord:
    return CallRecord(
        call_id=f"1718869200.{n}",
        caller="2001",
        caller_name="",
        dialled="2002",
        callee="2002",
        state="ringing",
        started_at=T0,
        members=(
            Member("2001", f"PJSIP/2001-{n:08x}", "caller", "ringing"),
            Member("2002", f"PJSIP/2002-{n:08x}", "callee", "ringing"),
        ),
        recording=f"call-{n}.wav",
    )


def answered(n: int) -> CallRecord:
    call = ringing(n)
    members = tuple(replace(m, state="up") for m in call.members)
    return replace(call, state="answered", answered_at=T0 + 2, members=members)


def ended(n: int) -> CallRecord:
    call = answered(n)
    members = tuple(replace(m, state="ended") for m in call.members)
    return replace(
        call, state="ended", ended_at=T0 + 9, disposition="ANSWERED", cause="caller",
        members=members,
    )  # fmt: skip


async def test_each_calls_writes_land_in_order_beside_a_busy_writer(
    db: async_sessionmaker[Any], db_path: Path
) -> None:
    bus = EventBus()
    published: list[str] = []
    bus.subscribe(lambda e: published.append(e.call_id) if isinstance(e, NewCdr) else None)
    service = CdrService(db, bus, FakeClock(T0))
    reporter = CallReporter(bus, lambda: service)
    for n in range(100, 140):  # other calls: the writer commits them in its thread
        reporter.call_ringing(ringing(n))
    for n in range(40):  # then, each within one step: rung and answered ...
        reporter.call_ringing(ringing(n))
        reporter.call_answered(answered(n))
    for n in range(40, 80):  # ... or rung, answered and over
        reporter.call_ringing(ringing(n))
        reporter.call_answered(answered(n))
        reporter.call_ended(ended(n))
    await reporter.drain()
    await service.stop()

    with sqlite3.connect(db_path) as conn:
        rows = conn.execute("SELECT call_id, answered_at FROM cdr_open_call").fetchall()
        cdrs = conn.execute("SELECT call_id, disposition, recording FROM cdr").fetchall()
    still_open = dict(rows)
    # the answer's open row replaced the ring's, the CDR removed the open row
    assert still_open == {
        **{f"1718869200.{n}": None for n in range(100, 140)},
        **{f"1718869200.{n}": T0 + 2 for n in range(40)},
    }
    assert sorted(cdrs) == sorted(
        (f"1718869200.{n}", "ANSWERED", f"call-{n}.wav") for n in range(40, 80)
    )
    assert published == [f"1718869200.{n}" for n in range(40, 80)]
    assert service.open_calls == 80
