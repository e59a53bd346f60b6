"""Sans-IO SIP transactions (RFC 3261 §17, RFC 6026): shared vocabulary.

A transaction machine takes events — ``start(now)``, ``receive(message, now)``,
``timer_fired(name, now)``, ``send_response(response, now)`` (server side),
``transport_error(now)`` — and returns a list of actions for its driver to carry
out. It never touches a socket or a clock itself, so every timer can be tested
by feeding it times.

Driver contract:
- ``SendMessage``: put ``data`` on the wire to ``destination`` (``message`` is the
  object it was serialised from, None when a compacted transaction resends bytes).
- ``StartTimer``: (re)arm the named timer to fire at absolute time ``at``, replacing
  a running timer of the same name; ``CancelTimer`` disarms it.
- ``DeliverResponse`` / ``DeliverRequest``: hand a message to the transaction user.
- ``TransactionFailed``: tell the transaction user why nothing more will come.
- ``TimerCFired``: an INVITE has rung for Timer C since its last provisional response;
  the user should CANCEL it (§16.6 step 11, §16.7).
- ``TransactionTerminated``: forget the transaction and disarm all its timers.

Module map: the machines are in ``transaction_client`` and ``transaction_server``,
their identities and derived requests (ACK, CANCEL) in ``transaction_keys``, matching
in ``transaction_table``; ``transaction_driver`` runs them on an asyncio loop and
``transaction_user`` holds the handles the application sees, and
``transaction_remnant`` the compacted form of transactions that only wait out a timer.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.timers import DEFAULT_TIMERS, TimerConfig, TimerName
from kilopbx.sip.transport import Destination

SipMessage = SipRequest | SipResponse


class TransactionState(Enum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class FailureReason(Enum):
    TIMEOUT = "timeout"  # client: Timer B or F fired without a final response
    TRANSPORT_ERROR = "transport error"  # the transport layer could not send
    NO_ACK = "no ACK"  # server INVITE: Timer H or L fired before the ACK arrived


@dataclass(slots=True)
class SendMessage:
    # Each effect writes its __init__ out: the one @dataclass generates is interpreted
    # Python, which a compiled class pays for at every construction (docs/decisions.md).

    message: SipMessage | None
    data: bytes
    destination: Destination

    def __init__(self, message: SipMessage | None, data: bytes, destination: Destination) -> None:
        self.message = message
        self.data = data
        self.destination = destination


@dataclass(slots=True)
class StartTimer:
    name: TimerName
    at: float

    def __init__(self, name: TimerName, at: float) -> None:
        self.name = name
        self.at = at


@dataclass(slots=True)
class CancelTimer:
    name: TimerName

    def __init__(self, name: TimerName) -> None:
        self.name = name


@dataclass(slots=True)
class DeliverResponse:
    response: SipResponse

    def __init__(self, response: SipResponse) -> None:
        self.response = response


@dataclass(slots=True)
class DeliverRequest:
    """A request that belongs to a transaction but interests its user (ACK to a 2xx)."""

    request: SipRequest

    def __init__(self, request: SipRequest) -> None:
        self.request = request


@dataclass(slots=True)
class TransactionFailed:
    reason: FailureReason

    def __init__(self, reason: FailureReason) -> None:
        self.reason = reason


@dataclass(slots=True)
class TimerCFired:
    def __init__(self) -> None:
        pass


@dataclass(slots=True)
class TransactionTerminated:
    def __init__(self) -> None:
        pass


Action = (
    SendMessage
    | StartTimer
    | CancelTimer
    | DeliverResponse
    | DeliverRequest
    | TransactionFailed
    | TimerCFired
    | TransactionTerminated
)

TERMINATED = TransactionTerminated()


class TransactionMachine:
    """What every transaction machine, client or server, has: the request, where its
    messages go, whether the transport is reliable, the timers and the state."""

    __slots__ = ("_interval", "destination", "reliable", "request", "state", "timers")

    def __init__(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        self.request = request
        self.destination = destination
        self.reliable = reliable
        self.timers = timers
        self.state = TransactionState.TERMINATED
        self._interval = timers.t1

    @property
    def terminated(self) -> bool:
        return self.state is TransactionState.TERMINATED

    def transport_error(self, now: float) -> list[Action]:
        """The transport could not deliver a message (§17.1.4, §17.2.4): the transaction
        ends and its user hears a failure."""
        if self.state is TransactionState.TERMINATED:
            return []
        self.state = TransactionState.TERMINATED
        return [TransactionFailed(FailureReason.TRANSPORT_ERROR), TERMINATED]
