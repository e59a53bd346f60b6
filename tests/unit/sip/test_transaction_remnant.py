"""Compacted transactions: a remnant carries on exactly where its full machine was, with
bytes alone, and the driver swaps it in so that the request, response and handle can go."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.timers import TimerConfig, TimerName
from kilopbx.sip.transaction import (
    Action,
    CancelTimer,
    DeliverResponse,
    SendMessage,
    StartTimer,
    TransactionFailed,
    TransactionState,
)
from kilopbx.sip.transaction_client import InviteClientTransaction, NonInviteClientTransaction
from kilopbx.sip.transaction_driver import Handle, TransactionDriver
from kilopbx.sip.transaction_keys import build_ack_for_non_2xx
from kilopbx.sip.transaction_remnant import (
    AcceptedInviteClient,
    AcceptedInviteServer,
    CompletedInviteClient,
    CompletedInviteServer,
    CompletedNonInviteClient,
    CompletedNonInviteServer,
)
from kilopbx.sip.transaction_server import InviteServerTransaction, NonInviteServerTransaction
from kilopbx.sip.transaction_user import ClientTransactionHandle, ServerTransactionHandle
from kilopbx.sip.transport import Destination, Source

RequestFactory = Callable[..., SipRequest]
ResponseFactory = Callable[..., SipResponse]
PEER = Destination("udp", "10.0.0.1", 5060)
State = TransactionState


def comparable(actions: list[Action]) -> list[tuple[object, ...]]:
    """Actions as the wire and the timers see them (a remnant has no message objects)."""
    result: list[tuple[object, ...]] = []
    for action in actions:
        if isinstance(action, SendMessage):
            result.append(("send", action.data, action.destination))
        elif isinstance(action, StartTimer | CancelTimer):
            result.append((type(action).__name__, action.name, getattr(action, "at", None)))
        elif isinstance(action, TransactionFailed):
            result.append(("failed", action.reason))
        elif isinstance(action, DeliverResponse):
            result.append(("deliver", action.response.status))
        else:
            result.append((type(action).__name__,))
    return result


def sent_data(actions: list[Action]) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, SendMessage)]


# --- sans-IO: each remnant continues its machine's state unchanged ---


def test_non_invite_server_compacts_only_when_completed_over_udp(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    assert txn.compact() is None  # Trying: the user has not answered yet
    txn.send_response(sip_response(request, 100), 0.1)
    assert txn.compact() is None  # Proceeding
    final = txn.send_response(sip_response(request, 401), 0.2)
    remnant = txn.compact()
    assert isinstance(remnant, CompletedNonInviteServer)
    assert remnant.state is State.COMPLETED and remnant.key == txn.key
    assert remnant.final_sent and not remnant.terminated

    tcp = NonInviteServerTransaction(request, PEER, reliable=True)
    tcp.start(0.0)
    tcp.send_response(sip_response(request, 200), 0.1)
    assert tcp.compact() is None  # reliable: already Terminated

    # A retransmitted request gets the identical bytes, as from the full machine.
    (original,) = sent_data(final)
    assert sent_data(remnant.receive(request, 1.0)) == [original]
    assert comparable(remnant.receive(request, 2.0)) == comparable(txn.receive(request, 2.0))
    assert remnant.send_response(sip_response(request, 500), 2.5) == []
    assert remnant.timer_fired(TimerName.TRYING, 3.0) == []
    assert comparable(remnant.timer_fired(TimerName.J, 32.2)) == comparable(
        txn.timer_fired(TimerName.J, 32.2)
    )
    assert remnant.state is txn.state is State.TERMINATED
    assert remnant.receive(request, 33.0) == []


def test_remnant_keeps_no_message_objects(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    txn.send_response(sip_response(request, 200), 0.1)
    remnant = txn.compact()
    assert remnant is not None
    kept = gc.get_referents(remnant)
    assert not any(isinstance(obj, SipRequest | SipResponse) for obj in kept)
    assert not any(isinstance(obj, NonInviteServerTransaction) for obj in kept)


def test_invite_server_remnant_retransmits_and_confirms_like_the_machine(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    full = InviteServerTransaction(request, PEER, reliable=False)
    full.start(0.0)
    first = full.send_response(sip_response(request, 486), 1.0)
    remnant = full.compact()
    assert isinstance(remnant, CompletedInviteServer)
    ack = build_ack_for_non_2xx(request, sip_response(request, 486))
    # Timer G backs off to T2 and every retransmission carries the same bytes.
    now = 1.5
    for _ in range(5):
        expected = full.timer_fired(TimerName.G, now)
        got = remnant.timer_fired(TimerName.G, now)
        assert comparable(got) == comparable(expected)
        assert sent_data(got) == sent_data(first)
        now = next(a.at for a in got if isinstance(a, StartTimer))
    assert comparable(remnant.receive(request, now)) == comparable(full.receive(request, now))
    assert comparable(remnant.receive(ack, now)) == comparable(full.receive(ack, now))
    assert remnant.state is full.state is State.CONFIRMED
    assert remnant.receive(ack, now + 0.1) == full.receive(ack, now + 0.1) == []
    assert remnant.timer_fired(TimerName.G, now + 1) == []
    assert comparable(remnant.timer_fired(TimerName.I, now + 5)) == comparable(
        full.timer_fired(TimerName.I, now + 5)
    )
    assert remnant.state is State.TERMINATED


def test_invite_server_remnant_timer_h_reports_no_ack(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    full = InviteServerTransaction(request, PEER, reliable=False)
    full.start(0.0)
    full.send_response(sip_response(request, 603), 0.0)
    remnant = full.compact()
    assert remnant is not None
    assert comparable(remnant.timer_fired(TimerName.H, 32.0)) == comparable(
        full.timer_fired(TimerName.H, 32.0)
    )
    assert remnant.terminated


def test_invite_server_2xx_is_compacted_once_acked(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    txn.send_response(sip_response(request, 200), 0.0)
    assert txn.state is State.ACCEPTED
    assert txn.compact() is None  # still retransmitting the 2xx until its ACK
    txn.ack_received(0.2)
    remnant = txn.compact()
    assert isinstance(remnant, AcceptedInviteServer)
    assert remnant.state is State.ACCEPTED and remnant.final_sent and not remnant.awaiting_ack
    kept = gc.get_referents(remnant)
    assert not any(isinstance(obj, SipRequest | SipResponse) for obj in kept)
    # a retransmitted INVITE is absorbed as the machine does; Timer L ends both
    assert remnant.receive(request, 0.3) == txn.receive(request, 0.3) == []
    assert remnant.send_response(sip_response(request, 200), 0.3) == []
    assert remnant.timer_fired(TimerName.G, 1.0) == []
    assert comparable(remnant.timer_fired(TimerName.L, 32.0)) == comparable(
        txn.timer_fired(TimerName.L, 32.0)
    )
    assert remnant.terminated


def test_invite_server_2xx_over_a_reliable_transport_is_not_compacted(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=True)
    txn.start(0.0)
    txn.send_response(sip_response(request, 200), 0.0)
    txn.ack_received(0.1)
    assert txn.compact() is None  # only UDP transactions become remnants


def test_client_remnants_absorb_and_reack(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("OPTIONS")
    options = NonInviteClientTransaction(request, PEER, reliable=False)
    options.start(0.0)
    assert options.compact() is None
    options.receive(sip_response(request, 200), 0.1)
    quiet = options.compact()
    assert isinstance(quiet, CompletedNonInviteClient)
    assert quiet.receive(sip_response(request, 200), 0.2) == []
    assert comparable(quiet.timer_fired(TimerName.K, 5.1)) == comparable(
        options.timer_fired(TimerName.K, 5.1)
    )

    invite = sip_request()
    full = InviteClientTransaction(invite, PEER, reliable=False)
    full.start(0.0)
    busy = sip_response(invite, 486)
    first = full.receive(busy, 0.5)
    remnant = full.compact()
    assert isinstance(remnant, CompletedInviteClient)
    # A retransmitted final response gets our ACK again, byte for byte.
    assert sent_data(remnant.receive(busy, 1.0)) == sent_data(first)
    assert comparable(remnant.receive(busy, 1.5)) == comparable(full.receive(busy, 1.5))
    assert remnant.receive(sip_response(invite, 180), 1.6) == []
    assert comparable(remnant.timer_fired(TimerName.D, 32.5)) == comparable(
        full.timer_fired(TimerName.D, 32.5)
    )


# --- the driver swaps the handle for the remnant ---


class Wire:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes, destination: Destination, handle: Any) -> None:
        self.sent.append(data)


def fake_stack() -> Any:
    return SimpleNamespace(loop=asyncio.get_running_loop(), user_agent="test")


async def test_driver_keeps_the_remnant_not_the_handle(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    request = sip_request("REGISTER")
    machine = NonInviteServerTransaction(request, PEER, reliable=False)
    handle = ServerTransactionHandle(fake_stack(), machine, Source("udp", "10.0.0.1", 5060))
    driver.start_server(handle)
    assert driver.table.find_server(handle.key) is handle
    driver.send_server_response(handle, sip_response(request, 401))
    entry = driver.table.find_server(handle.key)
    assert isinstance(entry, CompletedNonInviteServer)
    # The coarse Timer J calls the remnant back, not the handle.
    timer = handle.timers[TimerName.J]
    assert getattr(timer, "handle", None) is entry
    # The user's handle still works and follows the transaction's state.
    assert handle.request is request
    assert handle.final_sent and handle.state is State.COMPLETED
    # A retransmission met through the table gets the identical bytes.
    driver.apply(entry, entry.machine.receive(request, driver.now()))
    assert wire.sent == [wire.sent[0], wire.sent[0]]
    driver.stop()
    assert handle.timers == {}


async def test_driver_remnant_timer_ends_the_transaction(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    timers = TimerConfig(t1=0.005, t2=0.02, t4=0.02)  # J = 0.32 s: a plain loop timer
    invite = sip_request()
    machine = InviteServerTransaction(invite, PEER, reliable=False, timers=timers)
    handle = ServerTransactionHandle(fake_stack(), machine, Source("udp", "10.0.0.1", 5060))
    driver.start_server(handle)
    driver.send_server_response(handle, sip_response(invite, 486))
    remnant = driver.table.find_server(handle.key)
    assert isinstance(remnant, CompletedInviteServer)
    assert set(handle.timers) == {TimerName.G, TimerName.H}
    await asyncio.sleep(0.05)
    finals = wire.sent[1:]  # after the 100 Trying: the 486 and its retransmissions
    assert len(finals) >= 3 and len(set(finals)) == 1 and b" 486 " in finals[0]
    ack = build_ack_for_non_2xx(invite, sip_response(invite, 486))
    driver.apply(remnant, remnant.receive(ack, driver.now()))
    assert handle.state is State.CONFIRMED
    assert set(handle.timers) == {TimerName.I}
    for _ in range(50):
        if handle.state is State.TERMINATED:
            break
        await asyncio.sleep(0.01)
    assert handle.state is State.TERMINATED
    assert driver.table.server_count == 0
    assert handle.timers == {}


async def test_driver_lets_go_of_an_acked_2xx_handle_and_its_user(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    """The ACK for our 2xx turns the transaction into a remnant for the rest of Timer
    L (32 s): its handle, and whatever the user hung on it (the whole call, through
    its callbacks), is no longer kept by the stack."""
    import weakref

    wire = Wire()
    driver = TransactionDriver(wire.send)
    invite = sip_request()
    machine = InviteServerTransaction(invite, PEER, reliable=False)
    handle = ServerTransactionHandle(fake_stack(), machine, Source("udp", "10.0.0.1", 5060))

    class CallStandIn:
        def failed(self, reason: object) -> None:
            pass

    user = CallStandIn()
    handle.on_failure = user.failed
    driver.start_server(handle)
    driver.send_server_response(handle, sip_response(invite, 200))
    assert driver.table.find_server(handle.key) is handle  # retransmitting until the ACK
    ack = SipRequest("ACK", invite.uri, invite.headers.copy())
    waiting = driver.table.match_ack_for_2xx(ack)
    assert waiting is handle
    driver.apply(handle, machine.ack_received(driver.now()))
    remnant = driver.table.find_server(handle.key)
    assert isinstance(remnant, AcceptedInviteServer)
    assert getattr(handle.timers[TimerName.L], "handle", None) is remnant
    alive = weakref.ref(user)
    del user, handle, machine, waiting
    gc.collect()
    assert alive() is None
    driver.apply(remnant, remnant.receive(invite, driver.now()))  # absorbed: nothing sent
    assert len(wire.sent) == 2  # the 100 and the 200
    driver.stop()


async def test_client_handle_delivers_then_compacts(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    wire = Wire()
    driver = TransactionDriver(wire.send)
    request = sip_request("OPTIONS")
    machine = NonInviteClientTransaction(request, PEER, reliable=False)
    handle: Handle = ClientTransactionHandle(fake_stack(), machine)
    driver.start_client(handle)
    response = sip_response(request, 200)
    driver.apply(handle, machine.receive(response, driver.now()))
    assert (await asyncio.wait_for(handle.final_response(), 1)) is response
    entry = driver.table.match_response(response)
    assert isinstance(entry, CompletedNonInviteClient)
    assert handle.request is request and handle.state is State.COMPLETED
    driver.apply(entry, entry.receive(response, driver.now()))  # absorbed
    assert len(wire.sent) == 1
    driver.apply(entry, entry.timer_fired(TimerName.K, driver.now()))
    assert driver.table.client_count == 0
    assert handle.state is State.TERMINATED


def test_invite_client_2xx_compacts_to_a_remnant_that_hands_on_every_2xx(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteClientTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    ok = sip_response(request, 200)
    txn.receive(ok, 0.1)
    assert txn.state is State.ACCEPTED
    remnant = txn.compact()
    assert isinstance(remnant, AcceptedInviteClient)
    assert not any(
        isinstance(obj, SipRequest | SipResponse | InviteClientTransaction)
        for obj in gc.get_referents(remnant)
    )
    other_fork = sip_response(request, 200)
    for now, response in ((0.5, ok), (0.6, other_fork), (0.7, sip_response(request, 180))):
        assert comparable(remnant.receive(response, now)) == comparable(txn.receive(response, now))
    assert comparable(remnant.timer_fired(TimerName.M, 32.1)) == comparable(
        txn.timer_fired(TimerName.M, 32.1)
    )
    assert remnant.terminated
    assert InviteClientTransaction(request, PEER, reliable=True).compact() is None


async def test_an_accepted_invite_reaches_its_user_only_while_the_user_lives(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    """After its 2xx an INVITE client transaction waits Timer M (32 s) for more 2xx;
    the stack holds a remnant that reaches the user weakly: a retransmitted 2xx is
    handed on while the user (the call's INVITE) lives, and once it is gone the call
    behind it is not kept alive for those 32 s."""
    import weakref

    wire = Wire()
    driver = TransactionDriver(wire.send)
    request = sip_request()
    machine = InviteClientTransaction(request, PEER, reliable=False)
    extra: list[int] = []

    class Invite:  # stands in for the user (``ClientInvite``) and its call
        def additional(self, response: SipResponse) -> None:
            extra.append(response.status)

    user = Invite()
    handle = ClientTransactionHandle(fake_stack(), machine, on_additional_2xx=user.additional)
    driver.start_client(handle)
    ok = sip_response(request, 200)
    driver.apply(handle, machine.receive(ok, driver.now()))
    assert (await asyncio.wait_for(handle.final_response(), 1)) is ok
    entry = driver.table.match_response(ok)
    assert isinstance(entry, AcceptedInviteClient)
    assert getattr(handle.timers[TimerName.M], "handle", None) is entry
    driver.apply(entry, entry.receive(ok, driver.now()))  # a retransmission
    assert extra == [200]
    gone = weakref.ref(user)
    del user, handle, machine
    gc.collect()
    assert gone() is None
    driver.apply(entry, entry.receive(ok, driver.now()))  # nobody left: dropped
    assert extra == [200]
    driver.apply(entry, entry.timer_fired(TimerName.M, driver.now()))
    assert driver.table.client_count == 0
    driver.stop()


@pytest.mark.parametrize("status", [401, 200])
async def test_transport_error_ends_a_remnant(
    sip_request: RequestFactory, sip_response: ResponseFactory, status: int
) -> None:
    driver = TransactionDriver(Wire().send)
    request = sip_request("REGISTER")
    machine = NonInviteServerTransaction(request, PEER, reliable=False)
    handle = ServerTransactionHandle(fake_stack(), machine, Source("udp", "10.0.0.1", 5060))
    driver.start_server(handle)
    driver.send_server_response(handle, sip_response(request, status))
    entry = driver.table.find_server(handle.key)
    assert entry is not None and entry is not handle
    driver.transport_failed(entry)
    assert driver.table.server_count == 0
    assert handle.state is State.TERMINATED and handle.timers == {}


def test_remnant_holds_at_most_two_timers_without_a_dict() -> None:
    remnant = CompletedNonInviteServer(("b", "h", 5060, "REGISTER"), State.COMPLETED, b"x", PEER)
    first, second, third = object(), object(), object()
    remnant.set_timer(TimerName.G, first)  # type: ignore[arg-type]
    remnant.set_timer(TimerName.H, second)  # type: ignore[arg-type]
    remnant.set_timer(TimerName.G, third)  # type: ignore[arg-type]  # re-armed in place
    assert remnant.timers == {TimerName.G: third, TimerName.H: second}
    with pytest.raises(RuntimeError):
        remnant.set_timer(TimerName.I, first)  # type: ignore[arg-type]
    assert remnant.pop_timer(TimerName.G) is third
    assert remnant.pop_timer(TimerName.G) is None
    remnant.set_timer(TimerName.I, first)  # type: ignore[arg-type]
    assert sorted(remnant.take_timers()) == sorted([(TimerName.H, second), (TimerName.I, first)])
    assert remnant.timers == {}
    assert remnant.destination == PEER
    assert not any(isinstance(obj, dict) for obj in gc.get_referents(remnant))
