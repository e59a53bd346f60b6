"""The engine's calls as call events and CDRs: snapshots, BYE once, CallFailed,
Forward, and records written in order."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from kilopbx.engine.call_observer import CallRecord, Forwarding, Member
from kilopbx.engine.call_reporting import CallReporter
from kilopbx.events.bus import EventBus
from kilopbx.events.call_events import CallFailed, CallStatus, Forward
from kilopbx.events.call_model import CallDisposition, OpenCallRecord
from kilopbx.events.call_model import CallRecord as Cdr
from kilopbx.events.types import Event

A = Member("2001", "PJSIP/2001-00000001", "caller", "ringing")
B1 = Member("2002", "PJSIP/2002-00000002", "callee", "ringing")
B2 = Member("2002", "PJSIP/2002-00000003", "callee", "ringing")


def record(*members: Member, **changes: object) -> CallRecord:
    base = CallRecord(
        call_id="100.1",
        caller="2001",
        caller_name="Ann",
        dialled="2002",
        callee="2002",
        state="ringing",
        started_at=100.0,
        members=members,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Recorder:
    def __init__(self) -> None:
        self.writes: list[OpenCallRecord | Cdr] = []

    async def record_open_call(self, call: OpenCallRecord) -> None:
        self.writes.append(call)  # queued in order (``CallRecorder``) ...
        await asyncio.sleep(0.01)  # ... while its commit takes a while

    async def record(self, record: Cdr) -> object:
        self.writes.append(record)
        return None


def collect() -> tuple[EventBus, list[Event]]:
    bus = EventBus()
    events: list[Event] = []
    bus.subscribe(events.append)
    return bus, events


def statuses(event: Event) -> list[tuple[str, str]]:
    assert isinstance(event, CallStatus)
    return [(m.channel_id[-1], m.status.value if m.status else "") for m in event.members]


async def test_forked_call_answered_then_hung_up() -> None:
    bus, events = collect()
    recorder = Recorder()
    reporter = CallReporter(bus, lambda: recorder)
    reporter.call_ringing(record(A, B1, B2))
    up_a, up_b = replace(A, state="up"), replace(B2, state="up")
    answered = record(up_a, up_b, answered_at=105.0, state="answered")
    reporter.call_answered(answered)
    held = record(replace(A, state="held"), up_b, answered_at=105.0)
    reporter.call_changed(held)
    ended = record(
        replace(A, state="ended"),
        replace(B2, state="ended"),
        answered_at=105.0,
        ended_at=130.0,
        disposition="ANSWERED",
        cause="caller",
    )
    reporter.call_ended(ended)
    await reporter.drain()
    assert [statuses(e) for e in events] == [
        [("1", "ALERT"), ("2", "RING"), ("3", "RING")],
        [("1", "ANSWERED"), ("2", "BYE"), ("3", "ANSWER")],  # the other fork, once
        [("1", "HOLD"), ("3", "ANSWER")],
        [("1", "BYE"), ("3", "ANSWER")],  # the caller hung up: it leaves first (80 §4.4)
        [("3", "BYE")],
    ]
    kinds = [type(w).__name__ for w in recorder.writes]
    assert kinds == ["OpenCallRecord", "OpenCallRecord", "CallRecord"]
    cdr = recorder.writes[-1]
    assert isinstance(cdr, Cdr)
    assert (cdr.disposition, cdr.talk_seconds, cdr.call_seconds) == (
        CallDisposition.ANSWERED,
        25,
        30,
    )
    assert (cdr.caller, cdr.callee) == ("2001", "2002")


async def test_busy_call_fails_after_its_snapshots_and_before_the_last() -> None:
    bus, events = collect()
    recorder = Recorder()
    reporter = CallReporter(bus, lambda: recorder)
    reporter.call_ringing(record(A, B1))
    ended = record(
        replace(A, state="ended"), ended_at=101.0, disposition="BUSY", cause="busy", sip_status=486
    )
    reporter.call_ended(ended)
    await reporter.drain()
    assert isinstance(events[1], CallFailed) and events[1].reason.value == "486 Busy here"
    assert statuses(events[2]) == [("1", "ALERT"), ("2", "BYE")]  # the callee refused
    assert statuses(events[3]) == [("1", "BYE")]
    cdr = recorder.writes[-1]
    assert isinstance(cdr, Cdr) and cdr.disposition is CallDisposition.BUSY


async def test_unreachable_and_refused_calls_fail_without_call_status() -> None:
    bus, events = collect()
    reporter = CallReporter(bus, lambda: None)  # no CDR service: events only
    gone = replace(A, state="ended")
    reporter.call_ended(record(gone, disposition="BUSY", cause="dnd", sip_status=486))
    reporter.call_ended(record(gone, disposition="FAILED", cause="rejected", sip_status=404))
    reporter.call_ended(record(gone, disposition="NO ANSWER", cause="no_answer", sip_status=480))
    reasons = [e.reason.value for e in events if isinstance(e, CallFailed)]
    assert reasons == ["DND", "404 NOT found", "603 Declined"]
    assert not any(isinstance(e, CallStatus) for e in events)


async def test_a_caller_who_gives_up_is_no_failure_and_forwarding_is_told() -> None:
    bus, events = collect()
    reporter = CallReporter(bus, lambda: None)
    reporter.call_ringing(record(A, B1))
    reporter.call_forwarded(record(A, B1), Forwarding("2002", "2003", "always"))
    reporter.call_ended(record(replace(A, state="ended"), disposition="NO ANSWER", cause="cancel"))
    assert isinstance(events[1], Forward) and events[1].forwarding_extension == "2002"
    assert not any(isinstance(e, CallFailed) for e in events)


@pytest.mark.parametrize(
    ("cause", "expected"),
    [
        ("callee", [[("1", "ANSWERED"), ("2", "BYE")], [("1", "BYE")]]),
        ("caller", [[("1", "BYE"), ("2", "ANSWER")], [("2", "BYE")]]),
        ("api", [[("1", "BYE"), ("2", "BYE")]]),  # the PBX ends it: all at once
        ("rtp_timeout", [[("1", "BYE"), ("2", "BYE")]]),
    ],
)
async def test_who_left_first_is_reported_first(
    cause: str, expected: list[list[tuple[str, str]]]
) -> None:
    bus, events = collect()
    reporter = CallReporter(bus, lambda: None)
    up_a, up_b = replace(A, state="up"), replace(B1, state="up")
    reporter.call_answered(record(up_a, up_b, answered_at=105.0, state="answered"))
    ended = record(
        replace(A, state="ended"),
        replace(B1, state="ended"),
        answered_at=105.0,
        ended_at=130.0,
        disposition="ANSWERED",
        cause=cause,
    )
    reporter.call_ended(ended)
    assert [statuses(e) for e in events[1:]] == expected
