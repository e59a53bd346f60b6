"""Client transactions driven by hand: every timer and transition of §17.1, no sockets."""

from __future__ import annotations

from collections.abc import Callable

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.timers import TimerConfig, TimerName
from kilopbx.sip.transaction import (
    Action,
    DeliverResponse,
    FailureReason,
    SendMessage,
    TimerCFired,
    TransactionState,
)
from kilopbx.sip.transaction_client import (
    InviteClientTransaction,
    NonInviteClientTransaction,
    create_client_transaction,
)
from kilopbx.sip.transport import Destination
from tests.unit.sip.actions import cancelled, failure, started, terminated

RequestFactory = Callable[..., SipRequest]
ResponseFactory = Callable[..., SipResponse]
PEER = Destination("udp", "10.0.0.2", 5060)
TIMERS = TimerConfig()


def sent(actions: list[Action]) -> list[SendMessage]:
    return [a for a in actions if isinstance(a, SendMessage)]


def delivered(actions: list[Action]) -> list[int]:
    return [a.response.status for a in actions if isinstance(a, DeliverResponse)]


def test_factory_picks_machine_by_method(sip_request: RequestFactory) -> None:
    invite = create_client_transaction(sip_request("INVITE"), PEER, reliable=False)
    options = create_client_transaction(sip_request("OPTIONS"), PEER, reliable=False)
    assert isinstance(invite, InviteClientTransaction)
    assert isinstance(options, NonInviteClientTransaction)


# --- INVITE client (§17.1.1) ---


def test_invite_timer_a_doubles_without_t2_cap_until_timer_b(sip_request: RequestFactory) -> None:
    txn = InviteClientTransaction(sip_request(), PEER, reliable=False)
    actions = txn.start(0.0)
    assert txn.state is TransactionState.CALLING
    assert len(sent(actions)) == 1
    assert sent(actions)[0].data == txn.request.to_bytes()
    assert started(actions) == {TimerName.A: 0.5, TimerName.B: 32.0}
    now, interval, retransmissions = 0.5, 0.5, 0
    while now < 32.0:
        actions = txn.timer_fired(TimerName.A, now)
        assert len(sent(actions)) == 1
        retransmissions += 1
        interval *= 2
        assert started(actions) == {TimerName.A: now + interval}
        now += interval
    assert retransmissions == 6  # at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
    actions = txn.timer_fired(TimerName.B, 32.0)
    assert failure(actions) is FailureReason.TIMEOUT
    assert terminated(actions)
    assert txn.terminated


def test_invite_reliable_has_no_timer_a(sip_request: RequestFactory) -> None:
    txn = InviteClientTransaction(sip_request(transport="TCP"), PEER, reliable=True)
    assert started(txn.start(10.0)) == {TimerName.B: 42.0}


def test_invite_provisional_moves_to_proceeding_and_stops_timers(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteClientTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    actions = txn.receive(sip_response(request, 100), 0.1)
    assert txn.state is TransactionState.PROCEEDING
    assert cancelled(actions) == {TimerName.A, TimerName.B}
    assert delivered(actions) == [100]
    assert delivered(txn.receive(sip_response(request, 180), 0.2)) == [180]
    assert txn.timer_fired(TimerName.A, 0.5) == []  # a stale timer is ignored


def test_invite_non_2xx_final_sends_ack_and_absorbs_retransmissions(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request(extra=(("Route", "<sip:proxy.example.com;lr>"),))
    txn = InviteClientTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    busy = sip_response(request, 486)
    actions = txn.receive(busy, 1.0)
    assert txn.state is TransactionState.COMPLETED
    assert delivered(actions) == [486]
    (ack_send,) = sent(actions)
    ack = ack_send.message
    assert ack.method == "ACK"
    assert ack.uri == request.uri
    assert ack.cseq == (1, "ACK")
    assert ack.to.tag == "bob-tag"
    assert ack.from_.tag == "alice-tag"
    assert ack.call_id == request.call_id
    assert ack.top_via.branch == request.top_via.branch
    assert ack.headers.get_all("Route") == ["<sip:proxy.example.com;lr>"]
    assert ack_send.destination == PEER
    assert started(actions) == {TimerName.D: 33.0}
    # A retransmitted final response re-sends the same ACK and is not delivered again.
    again = txn.receive(busy, 2.0)
    assert delivered(again) == []
    assert [s.data for s in sent(again)] == [ack_send.data]
    assert terminated(txn.timer_fired(TimerName.D, 33.0))


def test_invite_non_2xx_over_reliable_terminates_at_once(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request(transport="TCP")
    txn = InviteClientTransaction(request, PEER, reliable=True)
    txn.start(0.0)
    actions = txn.receive(sip_response(request, 404), 0.3)
    assert len(sent(actions)) == 1  # the ACK
    assert terminated(actions)
    assert TimerName.D not in started(actions)


def test_invite_2xx_enters_accepted_and_delivers_retransmissions_until_timer_m(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteClientTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    ok = sip_response(request, 200)
    actions = txn.receive(ok, 1.0)
    assert txn.state is TransactionState.ACCEPTED
    assert delivered(actions) == [200]
    assert sent(actions) == []  # the ACK for a 2xx is the dialog's business
    assert started(actions) == {TimerName.M: 33.0}
    assert delivered(txn.receive(ok, 1.5)) == [200]
    assert delivered(txn.receive(sip_response(request, 486), 1.6)) == []
    assert terminated(txn.timer_fired(TimerName.M, 33.0))


def ringing(
    sip_request: RequestFactory, sip_response: ResponseFactory, timer_c: float | None = None
) -> tuple[SipRequest, InviteClientTransaction]:
    """An INVITE client transaction started at 0 that got a 180 at 1."""
    request = sip_request()
    txn = InviteClientTransaction(request, PEER, reliable=False, timer_c=timer_c)
    txn.start(0.0)
    txn.receive(sip_response(request, 180), 1.0)
    return request, txn


def test_invite_timer_b_is_ignored_after_a_provisional(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    _, txn = ringing(sip_request, sip_response)
    assert txn.timer_fired(TimerName.B, 32.0) == []
    assert txn.state is TransactionState.PROCEEDING


def test_transport_error_fails_the_transaction(sip_request: RequestFactory) -> None:
    txn = InviteClientTransaction(sip_request(), PEER, reliable=False)
    txn.start(0.0)
    actions = txn.transport_error(0.1)
    assert failure(actions) is FailureReason.TRANSPORT_ERROR
    assert terminated(actions)
    assert txn.transport_error(0.2) == []


# --- non-INVITE client (§17.1.2) ---


def test_non_invite_timer_e_caps_at_t2_and_timer_f_times_out(sip_request: RequestFactory) -> None:
    txn = NonInviteClientTransaction(sip_request("OPTIONS"), PEER, reliable=False)
    actions = txn.start(0.0)
    assert txn.state is TransactionState.TRYING
    assert started(actions) == {TimerName.E: 0.5, TimerName.F: 32.0}
    now = 0.5
    intervals = []
    while now < 32.0:
        actions = txn.timer_fired(TimerName.E, now)
        assert len(sent(actions)) == 1
        next_at = started(actions)[TimerName.E]
        intervals.append(next_at - now)
        now = next_at
    assert intervals[:5] == [1.0, 2.0, 4.0, 4.0, 4.0]
    actions = txn.timer_fired(TimerName.F, 32.0)
    assert failure(actions) is FailureReason.TIMEOUT
    assert terminated(actions)


def test_non_invite_proceeding_retransmits_every_t2(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteClientTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    assert delivered(txn.receive(sip_response(request, 100), 0.2)) == [100]
    assert txn.state is TransactionState.PROCEEDING
    assert started(txn.timer_fired(TimerName.E, 0.5)) == {TimerName.E: 4.5}


def test_non_invite_final_then_timer_k(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteClientTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    ok = sip_response(request, 200)
    actions = txn.receive(ok, 0.1)
    assert txn.state is TransactionState.COMPLETED
    assert delivered(actions) == [200]
    assert cancelled(actions) == {TimerName.E, TimerName.F}
    assert started(actions) == {TimerName.K: 5.1}
    assert txn.receive(ok, 0.2) == []  # absorbed
    assert txn.timer_fired(TimerName.E, 0.5) == []
    assert terminated(txn.timer_fired(TimerName.K, 5.1))


def test_non_invite_reliable_has_no_timer_e_and_no_timer_k(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("BYE", transport="TCP")
    txn = NonInviteClientTransaction(request, PEER, reliable=True)
    assert started(txn.start(0.0)) == {TimerName.F: 32.0}
    actions = txn.receive(sip_response(request, 200), 0.1)
    assert terminated(actions)
    assert TimerName.K not in started(actions)


def test_custom_timer_values_are_used(sip_request: RequestFactory) -> None:
    timers = TimerConfig(t1=0.1, t2=0.4, t4=1.0)
    txn = NonInviteClientTransaction(sip_request("OPTIONS"), PEER, reliable=False, timers=timers)
    assert started(txn.start(0.0)) == {TimerName.E: 0.1, TimerName.F: 6.4}


# --- CANCEL without an answer (§9.1) ---


def test_invite_gives_up_64_t1_after_a_cancel_nobody_answers(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    _, txn = ringing(sip_request, sip_response)
    assert started(txn.cancel_sent(10.0)) == {TimerName.B: 42.0}
    assert txn.cancel_sent(11.0) == []  # a second CANCEL does not move the deadline
    actions = txn.timer_fired(TimerName.B, 42.0)
    assert failure(actions) is FailureReason.TIMEOUT and terminated(actions)


def test_cancel_deadline_is_moot_once_the_487_came(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request, txn = ringing(sip_request, sip_response)
    txn.cancel_sent(2.0)
    assert delivered(txn.receive(sip_response(request, 487), 3.0)) == [487]
    assert txn.timer_fired(TimerName.B, 34.0) == []
    assert txn.state is TransactionState.COMPLETED


def test_cancel_before_any_provisional_arms_nothing(sip_request: RequestFactory) -> None:
    txn = InviteClientTransaction(sip_request(), PEER, reliable=False)
    txn.start(0.0)
    assert txn.cancel_sent(0.1) == []  # Timer B already runs in Calling


# --- Timer C (§16.6 step 11): a B2BUA leg that rings too long ---


def test_timer_c_is_rearmed_by_each_provisional_and_advises_cancel(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteClientTransaction(request, PEER, reliable=False, timer_c=181.0)
    assert TimerName.C not in started(txn.start(0.0))  # Timer B guards the silence
    assert started(txn.receive(sip_response(request, 180), 1.0))[TimerName.C] == 182.0
    assert started(txn.receive(sip_response(request, 183), 100.0))[TimerName.C] == 281.0
    assert any(isinstance(a, TimerCFired) for a in txn.timer_fired(TimerName.C, 281.0))
    actions = txn.cancel_sent(281.0)
    assert TimerName.C in cancelled(actions)
    assert txn.timer_fired(TimerName.C, 500.0) == []  # once cancelled, B decides
    assert TimerName.C not in started(txn.receive(sip_response(request, 180), 282.0))


def test_timer_c_stops_at_the_final_response_and_is_off_by_default(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request, txn = ringing(sip_request, sip_response, timer_c=181.0)
    assert TimerName.C in cancelled(txn.receive(sip_response(request, 200), 2.0))
    assert txn.timer_fired(TimerName.C, 182.0) == []
    plain = InviteClientTransaction(request, PEER, reliable=False)
    plain.start(0.0)
    assert TimerName.C not in started(plain.receive(sip_response(request, 180), 1.0))
