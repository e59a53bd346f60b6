"""Reliable provisional responses as a UAS (RFC 3262): ``ReliableProvisionals``.

When the caller's INVITE says ``Supported: 100rel`` or ``Require: 100rel``, every
provisional response but 100 goes out reliably: with ``Require: 100rel`` and an
``RSeq`` (a random start below 2**31, one more each time, §3), sent again at T1,
2*T1, 4*T1... until a PRACK whose ``RAck`` names it arrives. The PRACK gets 200; a
PRACK naming nothing unacknowledged gets 481. Only one reliable provisional is in
flight at a time; a later one waits its turn (§3), and the newest waiting one
replaces an older one of the same status. A response not acknowledged within 64*T1
gives up: the INVITE is to be rejected with a 5xx (§3). Once the final response is
sent, nothing more is retransmitted.

Sans-IO: ``ReliableProvisionals`` takes the current time and returns what to send.
``ReliableSender`` is the thin adapter ``kilopbx.sip.invite_server.ServerInvite``
uses: it sends through the INVITE's server transaction, keeps the retransmission
timer on the loop, and answers the PRACKs that reach the early dialog (its
``PrackOwner`` stands in front of the dialog's real owner, which sees every other
request).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kilopbx.sip.headers import split_list_value
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.sip.dialog_user import DialogOwner, SipDialog

OPTION_TAG = "100rel"
MAX_RSEQ = 2**31 - 1
GIVE_UP_STATUS = 504  # §3: "SHOULD reject the original request with a 5xx"

HeaderList = tuple[tuple[str, str], ...]


def wants_reliable(request: SipRequest) -> bool:
    """Whether the INVITE's provisional responses go reliably: it requires 100rel, or
    supports it and carries an offer. (Without an offer, the first reliable response
    would have to carry ours, RFC 3261 §13.2.1; the call engine makes it in the 2xx.)"""
    if _lists(request, "Require"):
        return True
    return bool(request.body) and _lists(request, "Supported")


def _lists(request: SipRequest, header: str) -> bool:
    """Whether ``header`` names 100rel (compact forms included)."""
    for line in request.headers.get_lines(header):
        if any(tag.strip().lower() == OPTION_TAG for tag in split_list_value(line)):
            return True
    return False


def parse_rack(value: str) -> tuple[int, int, str] | None:
    """``RAck: <rseq> <cseq> <method>`` (§7.2), or None when it is not that."""
    parts = value.split()
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts[:2]):
        return None
    if len(parts[0]) > 10 or len(parts[1]) > 10:
        return None
    return int(parts[0]), int(parts[1]), parts[2].upper()


@dataclass(frozen=True, slots=True)
class Send:
    """Send (or send again) this provisional response."""

    status: int
    headers: HeaderList
    body: bytes


@dataclass(slots=True)
class _Flight:
    send: Send
    rseq: int
    started: float
    next_at: float
    interval: float


@dataclass(slots=True)
class ReliableProvisionals:
    """The reliable provisional responses of one INVITE server transaction."""

    invite_cseq: int
    first_rseq: int
    t1: float = 0.5
    _next_rseq: int = field(init=False)
    _flight: _Flight | None = field(default=None, init=False)
    _waiting: list[Send] = field(default_factory=list, init=False)
    finished: bool = field(default=False, init=False)
    gave_up: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.first_rseq <= MAX_RSEQ:
            raise ValueError("RSeq must be 1 .. 2**31-1")
        self._next_rseq = self.first_rseq

    @property
    def unacknowledged(self) -> bool:
        return self._flight is not None

    def provisional(self, status: int, headers: HeaderList, body: bytes, now: float) -> list[Send]:
        """A new 1xx (101-199) to send reliably: sent now, or queued behind the one in
        flight."""
        if not 100 < status < 200:
            raise ValueError(f"{status} is not a reliable provisional status")
        if self.finished:
            return []
        send = Send(status, headers, body)
        if self._flight is not None:
            self._waiting = [w for w in self._waiting if w.status != status] + [send]
            return []
        return [self._launch(send, now)]

    def due(self, now: float) -> list[Send]:
        """Retransmissions due at ``now``; empty (and ``gave_up`` set) after 64*T1."""
        flight = self._flight
        if flight is None or self.finished:
            return []
        if now - flight.started >= 64 * self.t1:
            self.gave_up = True
            self.final()
            return []
        if now < flight.next_at:
            return []
        flight.next_at = now + flight.interval * 2
        flight.interval *= 2
        return [flight.send]

    def next_timer(self) -> float | None:
        if self._flight is None or self.finished:
            return None
        return min(self._flight.next_at, self._flight.started + 64 * self.t1)

    def prack(self, request: SipRequest, now: float) -> tuple[int, list[Send]]:
        """The status for a PRACK (200 or 481) and the queued response, if any, that
        may go now."""
        rack = None
        for value in request.headers.get_lines("RAck")[:1]:
            rack = parse_rack(value)
        flight = self._flight
        if rack is None or flight is None or rack != (flight.rseq, self.invite_cseq, "INVITE"):
            return 481, []
        self._flight = None
        if self._waiting and not self.finished:
            return 200, [self._launch(self._waiting.pop(0), now)]
        return 200, []

    def final(self) -> None:
        """The INVITE got its final response: stop retransmitting, drop the queue."""
        self.finished = True
        self._waiting.clear()

    def _launch(self, send: Send, now: float) -> Send:
        rseq = self._next_rseq
        self._next_rseq = rseq + 1 if rseq < MAX_RSEQ else 1
        stamped = Send(
            send.status, (*send.headers, ("Require", OPTION_TAG), ("RSeq", str(rseq))), send.body
        )
        self._flight = _Flight(stamped, rseq, now, now + self.t1, self.t1)
        return stamped


class ReliableSender:
    """``ReliableProvisionals`` on a live INVITE server transaction. ``respond`` sends
    one response through the transaction; ``on_give_up`` runs once when a response
    went unacknowledged for 64*T1 (the INVITE is then to be rejected)."""

    def __init__(
        self,
        transaction: ServerTransactionHandle,
        respond: Callable[[int, bytes, HeaderList], None],
        *,
        t1: float,
        now: Callable[[], float],
        loop: asyncio.AbstractEventLoop,
        on_give_up: Callable[[], None],
    ) -> None:
        self.core = ReliableProvisionals(
            transaction.request.cseq[0], secrets.randbelow(MAX_RSEQ) + 1, t1
        )
        self._respond = respond
        self._now = now
        self._loop = loop
        self._on_give_up = on_give_up
        self._timer: asyncio.TimerHandle | None = None

    def provisional(self, status: int, body: bytes, headers: HeaderList) -> None:
        self._send(self.core.provisional(status, headers, body, self._now()))

    def prack(self, transaction: ServerTransactionHandle) -> None:
        status, sends = self.core.prack(transaction.request, self._now())
        transaction.respond(status)
        self._send(sends)

    def final(self) -> None:
        self.core.final()
        self._arm()

    def owner(self, real: DialogOwner) -> DialogOwner:
        return PrackOwner(real, self)

    def _send(self, sends: list[Send]) -> None:
        for send in sends:
            self._respond(send.status, send.body, send.headers)
        self._arm()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        at = self.core.next_timer()
        if at is not None:
            self._timer = self._loop.call_later(max(0.0, at - self._now()), self._fire)

    def _fire(self) -> None:
        self._timer = None
        sends = self.core.due(self._now())
        if self.core.gave_up:
            self._on_give_up()
            return
        self._send(sends)


@dataclass(slots=True)
class PrackOwner:
    """Answers PRACKs for a ``ReliableSender``; everything else goes to ``real``."""

    real: DialogOwner
    sender: ReliableSender

    def on_dialog_request(
        self, dialog: SipDialog, transaction: ServerTransactionHandle
    ) -> Awaitable[None] | None:
        if transaction.request.method == "PRACK":
            self.sender.prack(transaction)
            return None
        return self.real.on_dialog_request(dialog, transaction)

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        self.real.on_dialog_ack(dialog, ack)
