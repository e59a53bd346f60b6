"""The loop-side driver: actions carried out, timers armed on the loop, coarse buckets."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from kilopbx.sip.message import SipRequest, make_response
from kilopbx.sip.timers import TimerConfig, TimerName
from kilopbx.sip.transaction_client import create_client_transaction
from kilopbx.sip.transaction_driver import CoarseTimers, Handle, TransactionDriver
from kilopbx.sip.transaction_server import create_server_transaction
from kilopbx.sip.transaction_user import ClientTransactionHandle, ServerTransactionHandle
from kilopbx.sip.transport import Destination, Source

RequestFactory = Callable[..., SipRequest]
PEER = Destination("udp", "10.0.0.2", 5060)


class Wire:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Destination]] = []

    def send(self, data: bytes, destination: Destination, handle: Handle | None) -> None:
        self.sent.append((data, destination))


def fake_stack() -> Any:
    return SimpleNamespace(loop=asyncio.get_running_loop(), user_agent="test")


async def test_client_retransmits_then_times_out_with_408(sip_request: RequestFactory) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    timers = TimerConfig(t1=0.005, t2=0.02)
    request = sip_request("OPTIONS")
    machine = create_client_transaction(request, PEER, reliable=False, timers=timers)
    handle = ClientTransactionHandle(fake_stack(), machine)
    driver.start_client(handle)
    response = await asyncio.wait_for(handle.final_response(), 2)
    assert response.status == 408
    assert len(wire.sent) >= 5  # first send plus Timer E retransmissions
    assert {data for data, _ in wire.sent} == {request.to_bytes()}
    assert driver.table.client_count == 0
    assert handle.timers == {}


async def test_an_abandoned_request_stops_retransmitting_and_ends_with_408(
    sip_request: RequestFactory,
) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    timers = TimerConfig(t1=0.005, t2=0.02)
    request = sip_request("REGISTER")
    machine = create_client_transaction(request, PEER, reliable=False, timers=timers)
    handle = ClientTransactionHandle(fake_stack(), machine)
    driver.start_client(handle)
    driver.abandon(handle)
    assert (await asyncio.wait_for(handle.final_response(), 1)).status == 408
    assert driver.table.client_count == 0
    assert handle.timers == {}
    sent = len(wire.sent)
    await asyncio.sleep(0.1)  # twenty T1s: Timer E would have fired many times
    assert len(wire.sent) == sent == 1
    # a late answer to it matches nothing
    assert driver.table.match_response(make_response(request, 200)) is None


async def test_abandon_leaves_answered_requests_and_invites_alone(
    sip_request: RequestFactory,
) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    request = sip_request("REGISTER")
    machine = create_client_transaction(request, PEER, reliable=True)
    handle = ClientTransactionHandle(fake_stack(), machine)
    driver.start_client(handle)
    driver.apply(handle, machine.receive(make_response(request, 200), driver.now()))
    driver.abandon(handle)
    assert (await handle.final_response()).status == 200
    invite = sip_request("INVITE")
    invite_machine = create_client_transaction(invite, PEER, reliable=True)
    invite_handle = ClientTransactionHandle(fake_stack(), invite_machine)
    driver.start_client(invite_handle)
    driver.abandon(invite_handle)
    assert not invite_handle.done
    assert driver.table.client_count == 1
    driver.stop()


async def test_final_response_reaches_the_waiting_user(sip_request: RequestFactory) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    request = sip_request("REGISTER")
    machine = create_client_transaction(request, PEER, reliable=True)
    handle = ClientTransactionHandle(fake_stack(), machine)
    driver.start_client(handle)
    entry = driver.table.match_response(make_response(request, 200))
    assert entry is handle
    driver.apply(handle, machine.receive(make_response(request, 200), driver.now()))
    assert (await asyncio.wait_for(handle.final_response(), 1)).status == 200
    assert driver.table.client_count == 0


async def test_injected_clock_drives_machine_time(sip_request: RequestFactory) -> None:
    wire = Wire()
    fake_now = [1000.0]
    driver = TransactionDriver(wire.send, clock=lambda: fake_now[0])
    request = sip_request("REGISTER")
    machine = create_server_transaction(request, PEER, reliable=False)
    handle = ServerTransactionHandle(fake_stack(), machine, Source("udp", "10.0.0.1", 5060))
    driver.start_server(handle)
    driver.send_server_response(handle, make_response(request, 200, to_tag="x"))
    assert TimerName.J in handle.timers
    assert len(wire.sent) == 1
    driver.stop()
    assert handle.timers == {}


async def test_coarse_timers_never_fire_early_and_skip_cancelled() -> None:
    loop = asyncio.get_running_loop()
    coarse = CoarseTimers(loop)
    fired: list[tuple[float, TimerName]] = []
    done = asyncio.Event()

    def record(handle: Any, name: TimerName) -> None:
        fired.append((loop.time(), name))
        if name is TimerName.K:
            done.set()

    start = loop.time()
    due = start + 0.05
    kept = coarse.call_at(due, record, None, TimerName.J)  # type: ignore[arg-type]
    dropped = coarse.call_at(due, record, None, TimerName.D)  # type: ignore[arg-type]
    coarse.call_at(due + 0.15, record, None, TimerName.K)  # type: ignore[arg-type]
    dropped.cancel()
    await asyncio.wait_for(done.wait(), 2)
    assert [name for _, name in fired] == [TimerName.J, TimerName.K]
    assert fired[0][0] >= due
    assert not kept.cancelled


async def test_coarse_timer_that_raises_does_not_skip_the_rest_of_its_bucket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    coarse = CoarseTimers(loop)
    fired: list[TimerName] = []
    done = asyncio.Event()

    def record(handle: Any, name: TimerName) -> None:
        fired.append(name)
        if name is TimerName.K:
            done.set()

    def explode(handle: Any, name: TimerName) -> None:
        raise RuntimeError("bug in a timer callback")

    due = loop.time() + 0.05
    coarse.call_at(due, record, None, TimerName.J)  # type: ignore[arg-type]
    coarse.call_at(due, explode, None, TimerName.D)  # type: ignore[arg-type]
    coarse.call_at(due, record, None, TimerName.K)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="kilopbx.sip.transaction_driver"):
        await asyncio.wait_for(done.wait(), 2)
    assert fired == [TimerName.J, TimerName.K]
    assert any(record.exc_info for record in caplog.records)


async def test_a_cancelled_coarse_timer_lets_go_of_its_transaction() -> None:
    """A cancelled entry leaves its bucket at once, and what it held is free at once
    (a flood of INVITEs answered 407 kept each one 300 s; under 200 calls/s the dead
    no-answer guards were 100,000 objects for every full garbage collection)."""
    import gc
    import weakref

    class Held:
        pass

    loop = asyncio.get_running_loop()
    coarse = CoarseTimers(loop)
    fired: list[TimerName] = []

    def record(handle: Any, name: TimerName) -> None:
        fired.append(name)

    held = Held()
    alive = weakref.ref(held)
    entry = coarse.call_at(loop.time() + 300, record, held, TimerName.NO_ANSWER)  # type: ignore[arg-type]
    other = coarse.call_at(loop.time() + 300, record, None, TimerName.J)  # type: ignore[arg-type]
    assert len(coarse) == 2
    entry.cancel()
    entry.cancel()  # twice is harmless
    assert len(coarse) == 1
    del held
    gc.collect()
    assert alive() is None
    other.cancel()
    assert len(coarse) == 0
    coarse._fire(int((loop.time() + 300) / 0.1) + 1)  # its bucket's time: nothing runs
    assert fired == []


async def test_an_invite_answered_at_once_keeps_nothing_for_the_no_answer_guard(
    sip_request: RequestFactory,
) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    request = sip_request("INVITE")
    machine = create_server_transaction(request, PEER, reliable=False)
    handle = ServerTransactionHandle(fake_stack(), machine, Source("udp", "10.0.0.1", 5060))
    driver.start_server(handle)
    driver.send_server_response(handle, make_response(request, 407, to_tag="x"))
    coarse = driver._coarse
    assert coarse is not None
    entries = [entry for bucket in coarse._buckets.values() for entry in bucket]
    assert not any(entry.name is TimerName.NO_ANSWER for entry in entries)  # gone at once
    assert any(entry.name is TimerName.H and entry.handle is not None for entry in entries)
    driver.stop()
