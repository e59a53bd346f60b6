"""A test-only dialog owner and INVITE answerer for stacks on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_client import ClientInvite, InviteEvent
from kilopbx.sip.invite_server import ServerInvite
from kilopbx.sip.message import SipRequest
from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transaction_user import ServerTransactionHandle
from tests.e2e.sip.helpers import HOST, WAIT

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
    """A stack's handler that rings then (unless told not to) answers every INVITE,
    through ServerInvite, owning the dialogs."""

    def __init__(self, *, answer: bool = True) -> None:
        self.owner = RecordingOwner()
        self.stack: SipStack | None = None
        self.answer = answer
        self.legs: list[ServerInvite] = []
        self.cancelled = asyncio.Event()

    @property
    def dialogs(self) -> list[SipDialog]:
        return [leg.dialog for leg in self.legs if leg.dialog is not None]

    def allowed_methods(self) -> str:
        return "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"

    async def on_request(self, transaction: ServerTransactionHandle) -> None:
        assert self.stack is not None
        if transaction.request.method != "INVITE":
            transaction.respond(405)
            return
        contact = f"<sip:callee@{HOST}:{self.stack.port}>"
        leg = ServerInvite(
            self.stack,
            transaction,
            self.owner,
            local_contact=contact,
            on_cancel=self.cancelled.set,
        )
        self.legs.append(leg)
        leg.provisional(180)
        if self.answer:
            leg.answer(b"v=0\r\n")


async def start_stack(handler: object, timers: TimerConfig = FAST) -> SipStack:
    stack = SipStack(handler, timers=timers)  # type: ignore[arg-type]
    if isinstance(handler, Callee):
        handler.stack = stack
    await stack.start(HOST, 0)
    return stack


@contextlib.asynccontextmanager
async def running(handler: object, timers: TimerConfig = FAST) -> AsyncIterator[SipStack]:
    """A stack on 127.0.0.1 for ``handler``, stopped on the way out."""
    stack = await start_stack(handler, timers)
    try:
        yield stack
    finally:
        await stack.stop()


def raw_request(
    method: str,
    port: int,
    *,
    to_tag: str | None = None,
    cseq: int = 2,
    call_id: str = "c@x",
    transport: str = "UDP",
    contact_port: int | None = None,
    extra: str = "",
) -> bytes:
    """A request as a phone on 127.0.0.1:``port`` would send it (its Contact may
    claim another port, as a phone behind NAT does)."""
    branch = f"z9hG4bK-{method}-{cseq}-{to_tag}"
    to = "<sip:callee@x>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:callee@{HOST} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} {HOST}:{port};branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:phone@x>;tag=ph\r\nTo: {to}\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
        f"Contact: <sip:phone@{HOST}:{contact_port or port}>\r\n{extra}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def events_of(call: ClientInvite) -> list[InviteEvent]:
    async def collect() -> list[InviteEvent]:
        return [event async for event in call]

    return await asyncio.wait_for(collect(), WAIT)
