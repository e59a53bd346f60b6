"""Compacted transactions: what a UDP transaction keeps once its outcome is settled.

After its final response a transaction mostly waits out a timer (J: 64*T1 = 32 s for
a non-INVITE server, D: 32 s for an INVITE client, K: T4 for a non-INVITE client, L:
32 s for an INVITE server whose 2xx was ACKed) to
absorb retransmissions. For that it needs its key, the bytes it may have to send
again, where they go and its timers; not the request and response objects, the
user's handle or its callbacks. Under REGISTER load those objects were most of the
heap (~6 KiB per transaction kept for 32 s); a remnant keeps a few hundred bytes
besides the serialised answer.

The full machines (``transaction_server``, ``transaction_client``) stay the reference
for the behaviour; their ``compact()`` hands over to one of these at the state where
nothing more than bytes is needed, and the remnant continues that state machine
unchanged. The driver then puts the remnant in the transaction table in place of the
handle. A remnant is its own table entry: ``machine`` is itself, it holds its running
timers (at most two) in slots, and failures have nobody left to tell. Only the remnant
itself and its far timer's bucket entry are objects the garbage collector tracks; a
completed transaction used to add dozens to every full collection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from kilopbx.sip.timers import TimerConfig, TimerName
from kilopbx.sip.transaction import (
    TERMINATED,
    Action,
    CancelTimer,
    DeliverResponse,
    FailureReason,
    SendMessage,
    StartTimer,
    TransactionFailed,
    TransactionState,
)
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.sip.message import SipRequest, SipResponse
    from kilopbx.sip.transaction_keys import ClientKey, ServerKey
    from kilopbx.sip.transaction_user import Cancellable

State = TransactionState


class Remnant:
    """What every compacted transaction shares: its key, state and running timers."""

    __slots__ = ("_first", "_first_name", "_second", "_second_name", "key", "state")

    def __init__(self, key: tuple[str | int | None, ...], state: TransactionState) -> None:
        self.key = key
        self.state = state
        self._first_name: TimerName | None = None
        self._first: Cancellable | None = None
        self._second_name: TimerName | None = None
        self._second: Cancellable | None = None

    @property
    def machine(self) -> Self:
        return self

    # --- running timers, as the driver keeps them (a dict would cost ~290 bytes) ---

    @property
    def timers(self) -> dict[TimerName, Cancellable]:
        """A snapshot of the running timers by name."""
        pairs = ((self._first_name, self._first), (self._second_name, self._second))
        return {name: timer for name, timer in pairs if name is not None and timer is not None}

    def set_timer(self, name: TimerName, timer: Cancellable) -> None:
        if self._first_name is name or self._first is None:
            self._first_name, self._first = name, timer
        elif self._second_name is name or self._second is None:
            self._second_name, self._second = name, timer
        else:
            raise RuntimeError(f"a remnant runs at most two timers, not {name}")

    def pop_timer(self, name: TimerName) -> Cancellable | None:
        timer: Cancellable | None = None
        if self._first_name is name:
            timer, self._first_name, self._first = self._first, None, None
        elif self._second_name is name:
            timer, self._second_name, self._second = self._second, None, None
        return timer

    def take_timers(self) -> list[tuple[TimerName, Cancellable]]:
        """Every running timer, forgotten here."""
        taken = list(self.timers.items())
        self._first_name = self._first = self._second_name = self._second = None
        return taken

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    def compact(self) -> None:
        return None  # already as small as it gets

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        raise NotImplementedError

    def transport_error(self, now: float) -> list[Action]:
        if self.state is State.TERMINATED:
            return []
        self.state = State.TERMINATED
        return [TransactionFailed(FailureReason.TRANSPORT_ERROR), TERMINATED]

    def _fail(self, reason: FailureReason) -> None:
        """Nobody listens any more: the user had the final outcome already."""

    def _terminate(self) -> list[Action]:
        self.state = State.TERMINATED
        return [TERMINATED]


class ServerRemnant(Remnant):
    """A server transaction after its final response: resends those bytes on demand
    (over UDP, the only transport whose transactions are compacted)."""

    __slots__ = ("data", "host", "port")

    key: ServerKey

    def __init__(
        self, key: ServerKey, state: TransactionState, data: bytes, destination: Destination
    ) -> None:
        super().__init__(key, state)
        self.data = data
        # Kept apart: a NamedTuple is one more object for every garbage collection.
        self.host = destination.host
        self.port = destination.port

    @property
    def destination(self) -> Destination:
        return Destination("udp", self.host, self.port)

    @property
    def final_sent(self) -> bool:
        return True

    @property
    def awaiting_ack(self) -> bool:
        return False

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        return []  # the final response is out; later ones are ignored, as in Completed

    def _resend(self) -> SendMessage:
        return SendMessage(None, self.data, self.destination)


class CompletedNonInviteServer(ServerRemnant):
    """§17.2.2 Completed: every retransmitted request gets the final response again."""

    __slots__ = ()

    def receive(self, request: SipRequest, now: float) -> list[Action]:
        return [self._resend()] if self.state is State.COMPLETED else []

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.J and self.state is State.COMPLETED:
            return self._terminate()
        return []


class CompletedInviteServer(ServerRemnant):
    """§17.2.1 Completed (non-2xx sent over UDP, waiting for the ACK) and Confirmed."""

    __slots__ = ("_interval", "_timers_config")

    def __init__(
        self,
        key: ServerKey,
        data: bytes,
        destination: Destination,
        *,
        interval: float,
        timers: TimerConfig,
    ) -> None:
        super().__init__(key, State.COMPLETED, data, destination)
        self._interval = interval
        self._timers_config = timers

    def receive(self, request: SipRequest, now: float) -> list[Action]:
        if self.state is not State.COMPLETED:
            return []  # Confirmed absorbs ACK retransmissions
        if request.method != "ACK":
            return [self._resend()]
        self.state = State.CONFIRMED
        self.data = b""  # nothing will be resent any more
        return [
            CancelTimer(TimerName.G),
            CancelTimer(TimerName.H),
            StartTimer(TimerName.I, now + self._timers_config.t4),
        ]

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        state = self.state
        if name is TimerName.G and state is State.COMPLETED:
            self._interval = min(self._interval * 2, self._timers_config.t2)
            return [self._resend(), StartTimer(TimerName.G, now + self._interval)]
        if name is TimerName.H and state is State.COMPLETED:
            self.state = State.TERMINATED
            return [TransactionFailed(FailureReason.NO_ACK), TERMINATED]
        if name is TimerName.I and state is State.CONFIRMED:
            return self._terminate()
        return []


class AcceptedInviteServer(ServerRemnant):
    """RFC 6026 Accepted, once the ACK for our 2xx arrived: nothing is left to send
    (the 2xx needs no more retransmissions), a retransmitted INVITE is absorbed until
    Timer L. Until then the full transaction kept the request, the user's handle and,
    through its callbacks, the whole call for 32 s after the call had ended."""

    __slots__ = ()

    def __init__(self, key: ServerKey, destination: Destination) -> None:
        super().__init__(key, State.ACCEPTED, b"", destination)

    def receive(self, request: SipRequest, now: float) -> list[Action]:
        return []  # an INVITE again, or an RFC 2543 peer's ACK again: already had

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.L and self.state is State.ACCEPTED:
            return self._terminate()
        return []


class CompletedNonInviteClient(Remnant):
    """§17.1.2.2 Completed: response retransmissions are absorbed until Timer K."""

    __slots__ = ()

    def receive(self, response: SipResponse, now: float) -> list[Action]:
        return []

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.K and self.state is State.COMPLETED:
            return self._terminate()
        return []


class CompletedInviteClient(Remnant):
    """§17.1.1.2 Completed: a retransmitted 3xx-6xx gets our ACK again until Timer D."""

    __slots__ = ("ack_data", "host", "port")

    def __init__(self, key: ClientKey, ack_data: bytes, destination: Destination) -> None:
        super().__init__(key, State.COMPLETED)
        self.ack_data = ack_data
        self.host = destination.host
        self.port = destination.port

    @property
    def destination(self) -> Destination:
        return Destination("udp", self.host, self.port)

    def receive(self, response: SipResponse, now: float) -> list[Action]:
        if self.state is State.COMPLETED and response.status >= 300:
            return [SendMessage(None, self.ack_data, self.destination)]
        return []

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.D and self.state is State.COMPLETED:
            return self._terminate()
        return []


class AcceptedInviteClient(Remnant):
    """RFC 6026 Accepted on the client side: every 2xx that still comes (a lost ACK's
    retransmission, another fork's answer) goes to the INVITE's user, who ACKs it,
    until Timer M. The user is reached through ``user``, a weak reference the driver
    sets: the transaction must not keep a call's INVITE (and the call behind it) for
    32 s after the call ended; once its user is gone, a late 2xx finds nobody."""

    __slots__ = ("user",)

    def __init__(self, key: ClientKey) -> None:
        super().__init__(key, State.ACCEPTED)
        self.user: Callable[[], object] | None = None

    def receive(self, response: SipResponse, now: float) -> list[Action]:
        if self.state is State.ACCEPTED and 200 <= response.status < 300:
            return [DeliverResponse(response)]
        return []

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.M and self.state is State.ACCEPTED:
            return self._terminate()
        return []


ServerEntryRemnant = CompletedNonInviteServer | CompletedInviteServer | AcceptedInviteServer
ClientEntryRemnant = CompletedNonInviteClient | CompletedInviteClient | AcceptedInviteClient
