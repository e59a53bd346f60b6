"""Call events through the reporter: every session gets its own format, the legacy
translation advances once per event, and the status-monitor filter applies."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from kilopbx.api.sessions import SessionManager
from kilopbx.clock import FakeClock
from kilopbx.events.call_events import CallStatus
from kilopbx.events.outbox import Outbox
from kilopbx.events.reporter import EventReporter
from tests.unit.events.spec_calls import (
    ALERT,
    ANSWER,
    ANSWERED,
    INTERNAL_CALL,
    RING,
    E,
    ext,
)


async def test_each_session_gets_its_format_from_one_translation(
    db: async_sessionmaker,
) -> None:
    clock = FakeClock()
    sessions = SessionManager(db, clock, idle_seconds=1800, max_sessions=32)
    # nothing listens on these ports: deliveries fail and everything stays queued
    made = {
        version: await sessions.create("127.0.0.1", port=port, url="", urltag="0", version=version)
        for version, port in (("2.0.0", 9), ("1.0.0", 7), ("1.0.2", 13))
    }
    outbox = Outbox(db, clock)
    reporter = EventReporter(outbox, sessions, "SN", retry_max=60)
    reporter.extension_monitored = lambda number: number == "2102"
    outbox.start()
    reporter(CallStatus(INTERNAL_CALL, (ext("2101", ALERT), ext("2102", RING))))
    reporter(CallStatus(INTERNAL_CALL, (ext("2101", ANSWERED), ext("2102", ANSWER))))
    reporter(CallStatus("1.1", (ext("2101", ALERT), ext("2103", RING))))  # nobody monitored
    await outbox.flush()
    queued = {v: [body for _id, body in outbox.queues[s.id]] for v, s in made.items()}
    await reporter.stop()
    await outbox.stop()

    assert [body[:38] for body in queued["2.0.0"]] == ['{"event":"CallStatus","callid":"171887'] * 2
    prefix = f'{{"action":"%s","callid":"{INTERNAL_CALL}",'
    assert queued["1.0.0"] == [
        prefix % "ALERT" + E("2101") + ',"sn":"SN"}',
        prefix % "RING" + E("2102") + "," + E("2101") + ',"sn":"SN"}',
        prefix % "ANSWERED" + E("2101") + "," + E("2102") + ',"sn":"SN"}',
        prefix % "ANSWER" + E("2102") + "," + E("2101") + ',"sn":"SN"}',
    ]
    assert queued["1.0.2"][1] == (
        prefix % "RING" + '"call":[{' + E("2102") + "},{" + E("2101") + '}],"sn":"SN"}'
    )
