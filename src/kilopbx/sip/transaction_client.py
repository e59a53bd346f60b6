"""Client transactions: INVITE (§17.1.1, plus the RFC 6026 Accepted state), non-INVITE (§17.1.2)."""

from __future__ import annotations

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.timers import DEFAULT_TIMERS, TimerConfig, TimerName
from kilopbx.sip.transaction import (
    TERMINATED,
    Action,
    CancelTimer,
    DeliverResponse,
    FailureReason,
    SendMessage,
    StartTimer,
    TimerCFired,
    TransactionFailed,
    TransactionMachine,
    TransactionState,
)
from kilopbx.sip.transaction_keys import ClientKey, build_ack_for_non_2xx, client_key
from kilopbx.sip.transaction_remnant import (
    AcceptedInviteClient,
    ClientEntryRemnant,
    CompletedInviteClient,
    CompletedNonInviteClient,
)
from kilopbx.sip.transport import Destination

State = TransactionState

# Timer D must cover the longest time a final response can be retransmitted to us.
MIN_TIMER_D = 32.0


class ClientTransaction(TransactionMachine):
    """What both client machines share: the request's bytes and its key."""

    __slots__ = ("_request_data", "key")

    def __init__(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
    ) -> None:
        super().__init__(request, destination, reliable=reliable, timers=timers)
        self.key: ClientKey = client_key(request)
        self._request_data = b""

    def _send_request(self) -> SendMessage:
        return SendMessage(self.request, self._request_data, self.destination)

    def start(self, now: float) -> list[Action]:
        raise NotImplementedError

    def receive(self, response: SipResponse, now: float) -> list[Action]:
        raise NotImplementedError

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        raise NotImplementedError

    def compact(self) -> ClientEntryRemnant | None:
        """The remnant that can carry on from here with bytes alone, when the
        transaction has reached such a state (see ``transaction_remnant``)."""
        return None

    def _fail(self, reason: FailureReason) -> list[Action]:
        self.state = State.TERMINATED
        return [TransactionFailed(reason), TERMINATED]


class InviteClientTransaction(ClientTransaction):
    __slots__ = ("_ack_data", "_ack_request", "_cancelled", "timer_c")

    def __init__(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
        timer_c: float | None = None,
    ) -> None:
        """``timer_c``: for a B2BUA leg, how long the INVITE may stay without a final
        response after its last provisional one before its user is told to CANCEL
        (RFC 3261 §16.6 step 11: more than 3 minutes); None for a plain UAC."""
        super().__init__(request, destination, reliable=reliable, timers=timers)
        self._ack_request: SipRequest | None = None
        self._ack_data = b""
        self._cancelled = False
        self.timer_c = timer_c

    def start(self, now: float) -> list[Action]:
        self.state = State.CALLING
        self._request_data = self.request.to_bytes()
        actions: list[Action] = [self._send_request()]
        if not self.reliable:
            self._interval = self.timers.t1
            actions.append(StartTimer(TimerName.A, now + self._interval))
        actions.append(StartTimer(TimerName.B, now + self.timers.timeout))
        return actions

    def receive(self, response: SipResponse, now: float) -> list[Action]:
        state = self.state
        status = response.status
        if state is State.CALLING or state is State.PROCEEDING:
            if status < 200:
                ringing: list[Action] = [DeliverResponse(response)]
                if self.timer_c is not None and not self._cancelled:
                    ringing.append(StartTimer(TimerName.C, now + self.timer_c))
                if state is State.CALLING:
                    self.state = State.PROCEEDING
                    return [CancelTimer(TimerName.A), CancelTimer(TimerName.B), *ringing]
                return ringing
            stop = [CancelTimer(TimerName.A), CancelTimer(TimerName.B), CancelTimer(TimerName.C)]
            if status < 300:
                # RFC 6026: stay around so 2xx retransmissions (and other forks' 2xx)
                # still reach the user, who must ACK each of them.
                self.state = State.ACCEPTED
                return [
                    *stop,
                    DeliverResponse(response),
                    StartTimer(TimerName.M, now + self.timers.timeout),
                ]
            self.state = State.COMPLETED
            self._ack_request = build_ack_for_non_2xx(self.request, response)
            self._ack_data = self._ack_request.to_bytes()
            actions: list[Action] = [*stop, self._send_ack(), DeliverResponse(response)]
            if self.reliable:
                self.state = State.TERMINATED
                actions.append(TERMINATED)
            else:
                timer_d = max(MIN_TIMER_D, self.timers.timeout)
                actions.append(StartTimer(TimerName.D, now + timer_d))
            return actions
        if state is State.COMPLETED and status >= 300:
            return [self._send_ack()]  # our ACK was lost: the server retransmitted
        if state is State.ACCEPTED and 200 <= status < 300:
            return [DeliverResponse(response)]
        return []

    def cancel_sent(self, now: float) -> list[Action]:
        """A CANCEL for this INVITE went out: without a final response within 64*T1
        the transaction gives up (§9.1), as a server that ignores CANCEL would
        otherwise keep it in Proceeding forever."""
        if self.state is not State.PROCEEDING or self._cancelled:
            return []
        self._cancelled = True
        return [CancelTimer(TimerName.C), StartTimer(TimerName.B, now + self.timers.timeout)]

    def compact(self) -> ClientEntryRemnant | None:
        if self.reliable:
            return None
        if self.state is State.ACCEPTED:
            return AcceptedInviteClient(self.key)
        if self.state is not State.COMPLETED:
            return None
        return CompletedInviteClient(self.key, self._ack_data, self.destination)

    def _send_ack(self) -> SendMessage:
        assert self._ack_request is not None
        return SendMessage(self._ack_request, self._ack_data, self.destination)

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        state = self.state
        if name is TimerName.A and state is State.CALLING:
            self._interval *= 2  # INVITE retransmissions are not capped by T2 (§17.1.1.2)
            return [self._send_request(), StartTimer(TimerName.A, now + self._interval)]
        if name is TimerName.B and (
            state is State.CALLING or (state is State.PROCEEDING and self._cancelled)
        ):
            return self._fail(FailureReason.TIMEOUT)
        if name is TimerName.C and state is State.PROCEEDING and not self._cancelled:
            return [TimerCFired()]
        if (name is TimerName.D and state is State.COMPLETED) or (
            name is TimerName.M and state is State.ACCEPTED
        ):
            self.state = State.TERMINATED
            return [TERMINATED]
        return []


class NonInviteClientTransaction(ClientTransaction):
    __slots__ = ()

    def start(self, now: float) -> list[Action]:
        self.state = State.TRYING
        self._request_data = self.request.to_bytes()
        actions: list[Action] = [self._send_request()]
        if not self.reliable:
            self._interval = self.timers.t1
            actions.append(StartTimer(TimerName.E, now + self._interval))
        actions.append(StartTimer(TimerName.F, now + self.timers.timeout))
        return actions

    def compact(self) -> ClientEntryRemnant | None:
        if self.state is not State.COMPLETED or self.reliable:
            return None
        return CompletedNonInviteClient(self.key, State.COMPLETED)

    def receive(self, response: SipResponse, now: float) -> list[Action]:
        state = self.state
        if state is not State.TRYING and state is not State.PROCEEDING:
            return []  # Completed absorbs retransmissions of the final response
        if response.status < 200:
            self.state = State.PROCEEDING
            return [DeliverResponse(response)]
        self.state = State.COMPLETED
        actions: list[Action] = [
            CancelTimer(TimerName.E),
            CancelTimer(TimerName.F),
            DeliverResponse(response),
        ]
        if self.reliable:
            self.state = State.TERMINATED
            actions.append(TERMINATED)
        else:
            actions.append(StartTimer(TimerName.K, now + self.timers.t4))
        return actions

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        state = self.state
        if name is TimerName.E and (state is State.TRYING or state is State.PROCEEDING):
            if state is State.TRYING:
                self._interval = min(self._interval * 2, self.timers.t2)
            else:
                self._interval = self.timers.t2
            return [self._send_request(), StartTimer(TimerName.E, now + self._interval)]
        if name is TimerName.F and (state is State.TRYING or state is State.PROCEEDING):
            return self._fail(FailureReason.TIMEOUT)
        if name is TimerName.K and state is State.COMPLETED:
            self.state = State.TERMINATED
            return [TERMINATED]
        return []


def create_client_transaction(
    request: SipRequest,
    destination: Destination,
    *,
    reliable: bool,
    timers: TimerConfig = DEFAULT_TIMERS,
    timer_c: float | None = None,
) -> ClientTransaction:
    """The right machine for ``request``; call ``start(now)`` to send it. ``timer_c``
    only applies to an INVITE (see InviteClientTransaction)."""
    if request.method == "INVITE":
        return InviteClientTransaction(
            request, destination, reliable=reliable, timers=timers, timer_c=timer_c
        )
    return NonInviteClientTransaction(request, destination, reliable=reliable, timers=timers)
