"""A new INVITE's two sides are freed by reference counting once their user lets go:
``ServerInvite`` drops the callbacks it hung on its transaction and dialog when the
INVITE has its outcome (ACKed, rejected, cancelled), and ``ClientInvite.close()``
drops its transaction. Before, each made a reference cycle (transaction -> bound
method -> invite -> transaction) that held the whole call, with its dialogs and
messages, until the cyclic collector ran.

Each test runs with the cyclic collector off: what is not freed by reference counting
stays, and its weak reference stays alive."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_client import ClientInvite
from kilopbx.sip.invite_server import ServerInvite
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transaction import FailureReason
from kilopbx.sip.transaction_client import create_client_transaction
from kilopbx.sip.transaction_server import InviteServerTransaction
from kilopbx.sip.transaction_user import ClientTransactionHandle, ServerTransactionHandle
from kilopbx.sip.transport import Destination, Source
from tests.unit.sip.conftest import build_request

PEER = Destination("udp", "10.0.0.1", 5060)
CONTACT = (("Contact", "<sip:alice@10.0.0.1>"),)


@pytest.fixture(autouse=True)
def no_cyclic_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Dialogs:
    def add(self, dialog: SipDialog) -> None:
        pass

    def remove(self, dialog: SipDialog) -> None:
        pass


class Owner:
    def on_dialog_request(self, dialog: SipDialog, transaction: Any) -> None:
        transaction.respond(200)

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        pass


class Call:
    """The call that holds the INVITE and is told of its CANCEL (as ``CallRuntime``
    holds its caller's leg and gets ``on_cancel``)."""

    def __init__(self) -> None:
        self.invite: ServerInvite | None = None
        self.cancels = 0

    def cancelled(self) -> None:
        self.cancels += 1


def server_stack(sent: list[SipResponse]) -> Any:
    return SimpleNamespace(
        loop=asyncio.get_running_loop(),
        user_agent="test",
        timers=TimerConfig(),
        dialogs=Dialogs(),
        _send_server_response=lambda handle, response: sent.append(response),
        spawn=lambda coroutine: coroutine.close(),  # the BYE after a missing ACK: not sent
    )


def incoming(sent: list[SipResponse]) -> tuple[Call, ServerInvite]:
    request = build_request("INVITE", extra=CONTACT)
    machine = InviteServerTransaction(request, PEER, reliable=False)
    handle = ServerTransactionHandle(server_stack(sent), machine, Source("udp", "10.0.0.1", 5060))
    call = Call()
    invite = ServerInvite(
        server_stack(sent),
        handle,
        Owner(),
        local_contact="<sip:pbx@10.0.0.2>",
        on_cancel=lambda: call.cancelled(),  # a closure over the call, as the engine's
    )
    call.invite = invite
    return call, invite


async def test_an_answered_and_acknowledged_invite_is_freed_with_its_call() -> None:
    sent: list[SipResponse] = []
    call, invite = incoming(sent)
    dialog = invite.answer(b"v=0\r\n")
    ack = build_request("ACK", extra=CONTACT, to_tag=invite.transaction.to_tag)
    dialog.receive_ack(ack)
    assert await invite.acknowledged() is ack
    assert [r.status for r in sent] == [200]
    gone = weakref.ref(call), weakref.ref(invite)
    del call, invite, dialog
    assert [ref() for ref in gone] == [None, None]


async def test_a_rejected_invite_is_freed_with_its_call() -> None:
    sent: list[SipResponse] = []
    call, invite = incoming(sent)
    invite.provisional(180)  # an early dialog, ended by the rejection
    invite.reject(486)
    assert [r.status for r in sent] == [180, 486]
    gone = weakref.ref(call), weakref.ref(invite)
    del call, invite
    assert [ref() for ref in gone] == [None, None]


async def test_a_cancelled_invite_tells_its_call_once_then_is_freed_with_it() -> None:
    sent: list[SipResponse] = []
    call, invite = incoming(sent)
    invite.provisional(180)
    invite.transaction.respond(487)  # what the stack does for a CANCEL
    invite.transaction._mark_cancelled()
    assert call.cancels == 1
    gone = weakref.ref(call), weakref.ref(invite)
    del call, invite
    assert [ref() for ref in gone] == [None, None]


async def test_an_answer_never_acknowledged_ends_the_wait_then_is_freed() -> None:
    sent: list[SipResponse] = []
    call, invite = incoming(sent)
    invite.answer(b"v=0\r\n")
    invite.transaction._fail(FailureReason.NO_ACK)
    assert await invite.acknowledged() is None
    gone = weakref.ref(call), weakref.ref(invite)
    del call, invite
    assert [ref() for ref in gone] == [None, None]


async def test_a_closed_client_invite_is_freed_once_its_user_lets_go() -> None:
    handles: list[ClientTransactionHandle] = []
    stack = SimpleNamespace(loop=asyncio.get_running_loop(), user_agent="test")

    def start_client_transaction(
        request: SipRequest, destination: Destination, **callbacks: Any
    ) -> ClientTransactionHandle:
        callbacks.pop("timer_c", None)
        machine = create_client_transaction(request, destination, reliable=False)
        handle = ClientTransactionHandle(stack, machine, **callbacks)  # type: ignore[arg-type]
        handles.append(handle)
        return handle

    stack.start_client_transaction = start_client_transaction
    invite = ClientInvite(stack, build_request("INVITE", extra=CONTACT), PEER, Owner())  # type: ignore[arg-type]
    invite.start()
    handle = weakref.ref(handles.pop())
    assert handle() is not None and handle().on_final == invite._on_final  # type: ignore[union-attr]
    invite.close()
    gone = weakref.ref(invite)
    del invite
    assert gone() is None
    assert handle() is None  # the stack held it no more (a stand-in stack here)
