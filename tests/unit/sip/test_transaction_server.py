"""Server transactions driven by hand: every timer and transition of §17.2, no sockets."""

from __future__ import annotations

from collections.abc import Callable

from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.timers import TimerConfig, TimerName
from kilopbx.sip.transaction import (
    Action,
    DeliverRequest,
    FailureReason,
    SendMessage,
    TransactionState,
)
from kilopbx.sip.transaction_keys import build_ack_for_non_2xx
from kilopbx.sip.transaction_server import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    create_server_transaction,
)
from kilopbx.sip.transport import Destination
from tests.unit.sip.actions import cancelled, failure, started, terminated

RequestFactory = Callable[..., SipRequest]
ResponseFactory = Callable[..., SipResponse]
PEER = Destination("udp", "10.0.0.1", 5060)
DELAYED_TRYING = TimerConfig(invite_trying_delay=0.2, non_invite_trying_delay=4.0)


def sent_statuses(actions: list[Action]) -> list[int]:
    return [
        a.message.status
        for a in actions
        if isinstance(a, SendMessage) and isinstance(a.message, SipResponse)
    ]


def test_factory_picks_machine_by_method(sip_request: RequestFactory) -> None:
    assert isinstance(
        create_server_transaction(sip_request("INVITE"), PEER, reliable=False),
        InviteServerTransaction,
    )
    assert isinstance(
        create_server_transaction(sip_request("REGISTER"), PEER, reliable=False),
        NonInviteServerTransaction,
    )


# --- INVITE server (§17.2.1) ---


def test_invite_sends_100_trying_at_once_by_default(sip_request: RequestFactory) -> None:
    txn = InviteServerTransaction(sip_request(), PEER, reliable=False)
    actions = txn.start(0.0)
    assert sent_statuses(actions) == [100]
    assert txn.state is TransactionState.PROCEEDING
    trying = actions[0]
    assert isinstance(trying, SendMessage)
    assert trying.destination == PEER
    assert trying.message.to.tag is None


def test_invite_delayed_trying_only_when_user_is_slow(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    slow = InviteServerTransaction(sip_request(), PEER, reliable=False, timers=DELAYED_TRYING)
    assert started(slow.start(0.0)) == {TimerName.TRYING: 0.2, TimerName.NO_ANSWER: 300.0}
    assert sent_statuses(slow.timer_fired(TimerName.TRYING, 0.2)) == [100]

    request = sip_request()
    quick = InviteServerTransaction(request, PEER, reliable=False, timers=DELAYED_TRYING)
    quick.start(0.0)
    actions = quick.send_response(sip_response(request, 180), 0.05)
    assert TimerName.TRYING in cancelled(actions)
    assert quick.timer_fired(TimerName.TRYING, 0.2) == []


def test_invite_retransmission_in_proceeding_resends_last_provisional(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    assert sent_statuses(txn.receive(request, 0.4)) == [100]
    txn.send_response(sip_response(request, 180), 0.5)
    assert sent_statuses(txn.receive(request, 1.0)) == [180]


def test_invite_non_2xx_timer_g_caps_at_t2_then_timer_h_without_ack(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    actions = txn.send_response(sip_response(request, 486), 1.0)
    assert txn.state is TransactionState.COMPLETED
    assert sent_statuses(actions) == [486]
    assert started(actions) == {TimerName.G: 1.5, TimerName.H: 33.0}
    now, intervals = 1.5, []
    while now < 33.0:
        actions = txn.timer_fired(TimerName.G, now)
        assert sent_statuses(actions) == [486]
        next_at = started(actions)[TimerName.G]
        intervals.append(next_at - now)
        now = next_at
    assert intervals[:5] == [1.0, 2.0, 4.0, 4.0, 4.0]
    # An INVITE retransmission in Completed gets the final response again.
    assert sent_statuses(txn.receive(request, 2.0)) == [486]
    actions = txn.timer_fired(TimerName.H, 33.0)
    assert failure(actions) is FailureReason.NO_ACK
    assert terminated(actions)


def test_invite_ack_confirms_and_timer_i_absorbs_ack_retransmissions(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    final = sip_response(request, 404)
    txn.send_response(final, 1.0)
    ack = build_ack_for_non_2xx(request, final)
    actions = txn.receive(ack, 1.2)
    assert txn.state is TransactionState.CONFIRMED
    assert cancelled(actions) == {TimerName.G, TimerName.H}
    assert started(actions) == {TimerName.I: 6.2}
    assert txn.receive(ack, 1.3) == []
    assert txn.receive(request, 1.4) == []
    assert txn.timer_fired(TimerName.G, 1.5) == []
    assert terminated(txn.timer_fired(TimerName.I, 6.2))


def test_invite_reliable_skips_timer_g_and_ack_terminates(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request(transport="TCP")
    txn = InviteServerTransaction(request, PEER, reliable=True)
    txn.start(0.0)
    final = sip_response(request, 603)
    assert started(txn.send_response(final, 1.0)) == {TimerName.H: 33.0}
    actions = txn.receive(build_ack_for_non_2xx(request, final), 1.1)
    assert terminated(actions)
    assert TimerName.I not in started(actions)


def test_invite_2xx_is_retransmitted_until_ack_then_timer_l(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    actions = txn.send_response(sip_response(request, 200), 1.0)
    assert txn.state is TransactionState.ACCEPTED
    assert txn.awaiting_ack
    assert started(actions) == {TimerName.RETRANSMIT_2XX: 1.5, TimerName.L: 33.0}
    actions = txn.timer_fired(TimerName.RETRANSMIT_2XX, 1.5)
    assert sent_statuses(actions) == [200]
    assert started(actions) == {TimerName.RETRANSMIT_2XX: 2.5}
    assert txn.receive(request, 2.0) == []  # INVITE retransmissions are absorbed
    assert cancelled(txn.ack_received(2.2)) == {TimerName.RETRANSMIT_2XX}
    assert txn.timer_fired(TimerName.RETRANSMIT_2XX, 2.5) == []
    actions = txn.timer_fired(TimerName.L, 33.0)
    assert terminated(actions)
    assert failure(actions) is None


def test_invite_2xx_without_ack_reports_failure_at_timer_l(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    txn.send_response(sip_response(request, 200), 0.0)
    actions = txn.timer_fired(TimerName.L, 32.0)
    assert failure(actions) is FailureReason.NO_ACK
    assert terminated(actions)


def test_invite_matched_ack_in_accepted_reaches_the_user(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    ok = sip_response(request, 200)
    txn.send_response(ok, 0.0)
    ack = build_ack_for_non_2xx(request, ok)
    actions = txn.receive(ack, 0.1)
    assert any(isinstance(a, DeliverRequest) for a in actions)
    assert not txn.awaiting_ack


def test_invite_responses_after_final_are_ignored(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request()
    txn = InviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    txn.send_response(sip_response(request, 486), 0.0)
    assert txn.send_response(sip_response(request, 200), 0.1) == []
    assert txn.send_response(sip_response(request, 180), 0.1) == []


# --- non-INVITE server (§17.2.2) ---


def test_non_invite_absorbs_retransmission_before_any_response(
    sip_request: RequestFactory,
) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteServerTransaction(request, PEER, reliable=False)
    assert txn.start(0.0) == []
    assert txn.state is TransactionState.TRYING
    assert txn.receive(request, 0.5) == []


def test_non_invite_final_response_then_retransmissions_then_timer_j(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    actions = txn.send_response(sip_response(request, 401), 0.1)
    assert txn.state is TransactionState.COMPLETED
    assert sent_statuses(actions) == [401]
    assert started(actions) == {TimerName.J: 32.1}
    first = next(a for a in actions if isinstance(a, SendMessage))
    again = txn.receive(request, 0.6)
    assert [a.data for a in again if isinstance(a, SendMessage)] == [first.data]
    assert txn.send_response(sip_response(request, 200), 0.7) == []
    assert terminated(txn.timer_fired(TimerName.J, 32.1))


def test_non_invite_provisional_then_final(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("SUBSCRIBE")
    txn = NonInviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    txn.send_response(sip_response(request, 100), 0.1)
    assert txn.state is TransactionState.PROCEEDING
    assert sent_statuses(txn.receive(request, 0.2)) == [100]
    txn.send_response(sip_response(request, 202), 0.3)
    assert txn.state is TransactionState.COMPLETED


def test_non_invite_reliable_terminates_on_final(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    request = sip_request("OPTIONS", transport="TCP")
    txn = NonInviteServerTransaction(request, PEER, reliable=True)
    txn.start(0.0)
    actions = txn.send_response(sip_response(request, 200), 0.1)
    assert terminated(actions)
    assert TimerName.J not in started(actions)


def test_non_invite_optional_delayed_trying(sip_request: RequestFactory) -> None:
    txn = NonInviteServerTransaction(
        sip_request("REGISTER"), PEER, reliable=False, timers=DELAYED_TRYING
    )
    assert started(txn.start(0.0)) == {TimerName.TRYING: 4.0}
    assert sent_statuses(txn.timer_fired(TimerName.TRYING, 4.0)) == [100]
    assert txn.state is TransactionState.PROCEEDING


def test_transport_error_terminates(sip_request: RequestFactory) -> None:
    request = sip_request("REGISTER")
    txn = NonInviteServerTransaction(request, PEER, reliable=False)
    txn.start(0.0)
    actions = txn.transport_error(0.1)
    assert failure(actions) is FailureReason.TRANSPORT_ERROR
    assert terminated(actions)


def test_100_trying_echoes_timestamp(sip_request: RequestFactory) -> None:
    request = sip_request(extra=(("Timestamp", "54"),))
    txn = InviteServerTransaction(request, PEER, reliable=False)
    trying, _no_answer_timer = txn.start(0.0)
    assert isinstance(trying, SendMessage)
    assert trying.message.headers.get("Timestamp") == "54"
    assert make_response(request, 100).headers.get("Timestamp") == "54"


# --- an INVITE its user never answers ---


def test_unanswered_invite_gets_408_with_the_tag_of_its_ringing(
    sip_request: RequestFactory,
) -> None:
    timers = TimerConfig(invite_answer_limit=300.0)
    request = sip_request("INVITE")
    txn = InviteServerTransaction(request, PEER, reliable=False, timers=timers)
    assert started(txn.start(0.0))[TimerName.NO_ANSWER] == 300.0
    txn.send_response(make_response(request, 180, to_tag="ring-tag"), 1.0)
    actions = txn.timer_fired(TimerName.NO_ANSWER, 300.0)
    assert sent_statuses(actions) == [408]
    assert failure(actions) is FailureReason.TIMEOUT
    timeout = next(a.message for a in actions if isinstance(a, SendMessage))
    assert isinstance(timeout, SipResponse) and timeout.to.tag == "ring-tag"
    assert txn.state is TransactionState.COMPLETED  # Timer G/H as for any non-2xx
    assert TimerName.H in started(actions)


def test_unanswered_invite_without_ringing_gets_408_with_a_new_tag(
    sip_request: RequestFactory,
) -> None:
    txn = InviteServerTransaction(sip_request("INVITE"), PEER, reliable=True)
    txn.start(0.0)
    actions = txn.timer_fired(TimerName.NO_ANSWER, 300.0)
    timeout = next(a.message for a in actions if isinstance(a, SendMessage))
    assert isinstance(timeout, SipResponse) and timeout.status == 408 and timeout.to.tag


def test_answered_invite_disarms_the_no_answer_timer(sip_request: RequestFactory) -> None:
    for status in (200, 486):
        request = sip_request("INVITE")
        txn = InviteServerTransaction(request, PEER, reliable=False)
        txn.start(0.0)
        actions = txn.send_response(make_response(request, status, to_tag="x"), 1.0)
        assert TimerName.NO_ANSWER in cancelled(actions)
        assert txn.timer_fired(TimerName.NO_ANSWER, 300.0) == []


def test_ringing_is_repeated_every_minute_until_the_answer(sip_request: RequestFactory) -> None:
    request = sip_request("INVITE")
    txn = InviteServerTransaction(request, PEER, reliable=True)
    txn.start(0.0)
    assert TimerName.RINGING not in started(txn.send_response(make_response(request, 100), 0.5))
    actions = txn.send_response(make_response(request, 180, to_tag="r"), 1.0)
    assert started(actions)[TimerName.RINGING] == 61.0
    repeated = txn.timer_fired(TimerName.RINGING, 61.0)
    assert sent_statuses(repeated) == [180] and started(repeated)[TimerName.RINGING] == 121.0
    assert TimerName.RINGING in cancelled(txn.send_response(make_response(request, 200), 70.0))
    assert txn.timer_fired(TimerName.RINGING, 121.0) == []
    quiet = InviteServerTransaction(
        request, PEER, reliable=True, timers=TimerConfig(provisional_refresh=None)
    )
    quiet.start(0.0)
    assert started(quiet.send_response(make_response(request, 180, to_tag="r"), 1.0)) == {}
