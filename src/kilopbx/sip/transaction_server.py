"""Server transactions: INVITE (§17.2.1 with the RFC 6026 Accepted state) and non-INVITE (§17.2.2).

Both absorb request retransmissions by re-sending their latest response, so the
transaction user sees each request once.
"""

from __future__ import annotations

from kilopbx.sip.message import SipRequest, SipResponse, make_response, new_tag
from kilopbx.sip.timers import DEFAULT_TIMERS, TimerConfig, TimerName
from kilopbx.sip.transaction import (
    TERMINATED,
    Action,
    CancelTimer,
    DeliverRequest,
    FailureReason,
    SendMessage,
    StartTimer,
    TransactionFailed,
    TransactionMachine,
    TransactionState,
)
from kilopbx.sip.transaction_keys import ServerKey, server_key
from kilopbx.sip.transaction_remnant import (
    AcceptedInviteServer,
    CompletedInviteServer,
    CompletedNonInviteServer,
    ServerEntryRemnant,
)
from kilopbx.sip.transport import Destination

State = TransactionState


class ServerTransaction(TransactionMachine):
    """What both server machines share: the key and the last answer sent."""

    __slots__ = ("_last_data", "_last_response", "key")

    def __init__(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
        key: ServerKey | None = None,
    ) -> None:
        super().__init__(request, destination, reliable=reliable, timers=timers)
        self.key: ServerKey = key if key is not None else server_key(request)
        self._last_response: SipResponse | None = None
        self._last_data = b""

    @property
    def last_response(self) -> SipResponse | None:
        return self._last_response

    @property
    def final_sent(self) -> bool:
        last = self._last_response
        return last is not None and last.status >= 200

    def compact(self) -> ServerEntryRemnant | None:
        """The remnant that can carry on from here with bytes alone, when the
        transaction has reached such a state (see ``transaction_remnant``)."""
        return None

    def _send(self, response: SipResponse) -> SendMessage:
        self._last_response = response
        self._last_data = response.to_bytes()
        return SendMessage(response, self._last_data, self.destination)

    def _resend_last(self) -> list[Action]:
        if self._last_response is None:
            return []
        return [SendMessage(self._last_response, self._last_data, self.destination)]

    def _trying(self) -> SendMessage:
        return self._send(make_response(self.request, 100))

    def start(self, now: float) -> list[Action]:
        raise NotImplementedError

    def receive(self, request: SipRequest, now: float) -> list[Action]:
        raise NotImplementedError

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        raise NotImplementedError

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        raise NotImplementedError


class InviteServerTransaction(ServerTransaction):
    """Also retransmits a 2xx until its ACK (§13.3.1.4), so every UAS gets that for free."""

    __slots__ = ("_awaiting_ack",)

    def __init__(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        reliable: bool,
        timers: TimerConfig = DEFAULT_TIMERS,
        key: ServerKey | None = None,
    ) -> None:
        super().__init__(request, destination, reliable=reliable, timers=timers, key=key)
        self._awaiting_ack = False

    @property
    def awaiting_ack(self) -> bool:
        """A 2xx was sent and its ACK (a separate request) has not been seen yet."""
        return self._awaiting_ack

    def start(self, now: float) -> list[Action]:
        self.state = State.PROCEEDING
        give_up = StartTimer(TimerName.NO_ANSWER, now + self.timers.invite_answer_limit)
        delay = self.timers.invite_trying_delay
        if delay <= 0:
            return [self._trying(), give_up]
        return [StartTimer(TimerName.TRYING, now + delay), give_up]

    def receive(self, request: SipRequest, now: float) -> list[Action]:
        state = self.state
        if request.method == "ACK":
            if state is State.COMPLETED:
                self.state = State.CONFIRMED
                actions: list[Action] = [CancelTimer(TimerName.G), CancelTimer(TimerName.H)]
                if self.reliable:
                    self.state = State.TERMINATED
                    actions.append(TERMINATED)
                else:
                    actions.append(StartTimer(TimerName.I, now + self.timers.t4))
                return actions
            if state is State.ACCEPTED:
                # Only an RFC 2543 peer reuses the INVITE's Via for the 2xx ACK.
                return [*self.ack_received(now), DeliverRequest(request)]
            return []
        if state is State.PROCEEDING or state is State.COMPLETED:
            return self._resend_last()
        return []  # Accepted/Confirmed: the user already has it, the 2xx is its business

    def compact(self) -> ServerEntryRemnant | None:
        if self.reliable:
            return None
        if self.state is State.ACCEPTED and not self._awaiting_ack:
            return AcceptedInviteServer(self.key, self.destination)
        if self.state is not State.COMPLETED:
            return None
        return CompletedInviteServer(
            self.key, self._last_data, self.destination, interval=self._interval, timers=self.timers
        )

    def ack_received(self, now: float) -> list[Action]:
        """The ACK for our 2xx arrived (matched by dialog, not by branch): stop retransmitting."""
        if not self._awaiting_ack:
            return []
        self._awaiting_ack = False
        return [CancelTimer(TimerName.RETRANSMIT_2XX)]

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        state = self.state
        status = response.status
        if state is State.ACCEPTED:
            return [self._send(response)] if 200 <= status < 300 else []
        if state is not State.PROCEEDING:
            return []
        if status < 200:
            actions: list[Action] = [CancelTimer(TimerName.TRYING), self._send(response)]
            refresh = self.timers.provisional_refresh
            if status > 100 and refresh is not None:
                actions.append(StartTimer(TimerName.RINGING, now + refresh))
            return actions
        timeout = self.timers.timeout
        if status < 300:
            self.state = State.ACCEPTED
            self._awaiting_ack = True
            self._interval = self.timers.t1
            return [
                CancelTimer(TimerName.TRYING),
                CancelTimer(TimerName.NO_ANSWER),
                CancelTimer(TimerName.RINGING),
                self._send(response),
                StartTimer(TimerName.RETRANSMIT_2XX, now + self._interval),
                StartTimer(TimerName.L, now + timeout),
            ]
        self.state = State.COMPLETED
        actions = [
            CancelTimer(TimerName.TRYING),
            CancelTimer(TimerName.NO_ANSWER),
            CancelTimer(TimerName.RINGING),
            self._send(response),
        ]
        if not self.reliable:
            self._interval = self.timers.t1
            actions.append(StartTimer(TimerName.G, now + self._interval))
        actions.append(StartTimer(TimerName.H, now + timeout))
        return actions

    def _give_up(self, now: float) -> list[Action]:
        """Answer 408 for a user that never answered, with the To tag of its
        provisional responses so the caller sees one dialog end (§8.2.6.2)."""
        last = self._last_response
        to_tag = last.to.tag if last is not None and last.status > 100 else None
        timeout = make_response(self.request, 408, to_tag=to_tag or new_tag())
        return [TransactionFailed(FailureReason.TIMEOUT), *self.send_response(timeout, now)]

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        state = self.state
        if name is TimerName.TRYING:
            if state is State.PROCEEDING and self._last_response is None:
                return [self._trying()]
            return []
        if name is TimerName.NO_ANSWER and state is State.PROCEEDING:
            return self._give_up(now)
        if name is TimerName.RINGING and state is State.PROCEEDING:
            refresh = self.timers.provisional_refresh
            assert refresh is not None  # only armed when set
            return [*self._resend_last(), StartTimer(TimerName.RINGING, now + refresh)]
        if name is TimerName.G and state is State.COMPLETED:
            self._interval = min(self._interval * 2, self.timers.t2)
            return [*self._resend_last(), StartTimer(TimerName.G, now + self._interval)]
        if name is TimerName.RETRANSMIT_2XX and state is State.ACCEPTED and self._awaiting_ack:
            self._interval = min(self._interval * 2, self.timers.t2)
            return [
                *self._resend_last(),
                StartTimer(TimerName.RETRANSMIT_2XX, now + self._interval),
            ]
        if name is TimerName.H and state is State.COMPLETED:
            self.state = State.TERMINATED
            return [TransactionFailed(FailureReason.NO_ACK), TERMINATED]
        if name is TimerName.I and state is State.CONFIRMED:
            self.state = State.TERMINATED
            return [TERMINATED]
        if name is TimerName.L and state is State.ACCEPTED:
            self.state = State.TERMINATED
            if self._awaiting_ack:
                # §13.3.1.4: the user should now end the session with a BYE.
                self._awaiting_ack = False
                return [TransactionFailed(FailureReason.NO_ACK), TERMINATED]
            return [TERMINATED]
        return []


class NonInviteServerTransaction(ServerTransaction):
    __slots__ = ()

    def start(self, now: float) -> list[Action]:
        self.state = State.TRYING
        delay = self.timers.non_invite_trying_delay
        if delay is None:
            return []
        return [StartTimer(TimerName.TRYING, now + delay)]

    def compact(self) -> ServerEntryRemnant | None:
        if self.state is not State.COMPLETED or self.reliable:
            return None
        return CompletedNonInviteServer(
            self.key, State.COMPLETED, self._last_data, self.destination
        )

    def receive(self, request: SipRequest, now: float) -> list[Action]:
        # In Trying nothing was sent yet, so the retransmission is simply absorbed.
        return self._resend_last() if self.state is not State.TERMINATED else []

    def send_response(self, response: SipResponse, now: float) -> list[Action]:
        state = self.state
        if state is not State.TRYING and state is not State.PROCEEDING:
            return []
        if response.status < 200:
            self.state = State.PROCEEDING
            return [CancelTimer(TimerName.TRYING), self._send(response)]
        self.state = State.COMPLETED
        actions: list[Action] = [CancelTimer(TimerName.TRYING), self._send(response)]
        if self.reliable:
            self.state = State.TERMINATED
            actions.append(TERMINATED)
        else:
            actions.append(StartTimer(TimerName.J, now + self.timers.timeout))
        return actions

    def timer_fired(self, name: TimerName, now: float) -> list[Action]:
        if name is TimerName.TRYING and self.state is State.TRYING:
            self.state = State.PROCEEDING
            return [self._trying()]
        if name is TimerName.J and self.state is State.COMPLETED:
            self.state = State.TERMINATED
            return [TERMINATED]
        return []


def create_server_transaction(
    request: SipRequest,
    destination: Destination,
    *,
    reliable: bool,
    timers: TimerConfig = DEFAULT_TIMERS,
    key: ServerKey | None = None,
) -> ServerTransaction:
    """The right machine for ``request``; call ``start(now)`` before anything else."""
    machine = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
    return machine(request, destination, reliable=reliable, timers=timers, key=key)
