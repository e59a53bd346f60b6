"""A test-only dialog owner and INVITE answerer for stacks on 127.0.0.1."""

from __future__ import annotations

import asyncio

from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.message import SipRequest
from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transaction_user import ServerTransactionHandle
from tests.e2e.sip.helpers import HOST

FAST = TimerConfig(t1=0.05, t2=0.4, t4=0.5)


class RecordingOwner:
    """Owns dialogs in tests: records what arrives, answers 200 unless told otherwise.

    ``gate`` (when set) holds every request until it is set, so a test can see that
    the next request of the dialog waits its turn."""

    def __init__(self) -> None:
        self.requests: list[tuple[SipDialog, SipRequest]] = []
        self.acks: list[SipRequest] = []
        self.arrived = asyncio.Condition()
        self.acked = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.statuses: dict[str, int] = {}

    async def on_dialog_request(
        self, dialog: SipDialog, transaction: ServerTransactionHandle
    ) -> None:
        async with self.arrived:
            self.requests.append((dialog, transaction.request))
            self.arrived.notify_all()
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), 5.0)
        method = transaction.request.method
        if method != "BYE" or method in self.statuses:  # BYE: the dialog layer answers
            transaction.respond(self.statuses.get(method, 200))

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        self.acks.append(ack)
        self.acked.set()

    def methods(self) -> list[str]:
        return [request.method for _, request in self.requests]

    async def wait_for(self, count: int) -> None:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.requests) >= count), 5.0)


class Callee:
    """A stack's handler that rings then answers every INVITE, owning its dialogs."""

    def __init__(self, *, answer: bool = True, record_route: bool = False) -> None:
        self.owner = RecordingOwner()
        self.stack: SipStack | None = None
        self.answer = answer
        self.dialogs: list[SipDialog] = []
        self.invites: list[ServerTransactionHandle] = []

    def allowed_methods(self) -> str:
        return "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

    async def on_request(self, transaction: ServerTransactionHandle) -> None:
        assert self.stack is not None
        self.invites.append(transaction)
        if transaction.request.method != "INVITE":
            transaction.respond(405)
            return
        contact = f"<sip:callee@{HOST}:{self.stack.port}>"
        dialog = SipDialog.accept(
            self.stack, transaction, self.owner, local_contact=contact, early=True
        )
        self.dialogs.append(dialog)
        transaction.respond(180, headers=[("Contact", contact)])
        if self.answer:
            dialog.dialog.confirm()
            transaction.respond(200, headers=[("Contact", contact)], body=b"v=0\r\n")


async def start_stack(handler: object, timers: TimerConfig = FAST) -> SipStack:
    stack = SipStack(handler, timers=timers)  # type: ignore[arg-type]
    if isinstance(handler, Callee):
        handler.stack = stack
    await stack.start(HOST, 0)
    return stack
