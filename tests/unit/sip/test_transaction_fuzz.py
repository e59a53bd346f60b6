"""Any sequence of events leaves the machines consistent: no exception, nothing after
termination, at most one final response delivered or sent, timers only in the future."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.timers import TimerName
from kilopbx.sip.transaction import (
    Action,
    DeliverResponse,
    SendMessage,
    StartTimer,
    TransactionTerminated,
)
from kilopbx.sip.transaction_client import create_client_transaction
from kilopbx.sip.transaction_keys import build_ack_for_non_2xx
from kilopbx.sip.transaction_server import create_server_transaction
from kilopbx.sip.transport import Destination

PEER = Destination("udp", "10.0.0.2", 5060)
STATUSES = st.sampled_from([100, 180, 183, 200, 202, 302, 401, 404, 486, 487, 500, 603])
TIMERS = st.sampled_from(list(TimerName))
METHODS = st.sampled_from(["INVITE", "REGISTER", "OPTIONS", "BYE"])

client_event = st.one_of(
    st.tuples(st.just("response"), STATUSES),
    st.tuples(st.just("timer"), TIMERS),
    st.tuples(st.just("transport_error"), st.none()),
)
server_event = st.one_of(
    st.tuples(st.just("respond"), STATUSES),
    st.tuples(st.just("retransmission"), st.none()),
    st.tuples(st.just("ack"), st.none()),
    st.tuples(st.just("timer"), TIMERS),
    st.tuples(st.just("transport_error"), st.none()),
)


def check_timers(actions: list[Action], now: float) -> None:
    for action in actions:
        if isinstance(action, StartTimer):
            assert action.at >= now


def request_for(method: str) -> SipRequest:
    headers = Headers(
        [
            ("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-fuzz"),
            ("From", "<sip:a@example.com>;tag=a"),
            ("To", "<sip:b@example.com>"),
            ("Call-ID", "fuzz"),
            ("CSeq", f"1 {method}"),
        ]
    )
    return SipRequest(method, "sip:b@example.com", headers)


@settings(max_examples=300, deadline=None)
@given(method=METHODS, reliable=st.booleans(), events=st.lists(client_event, max_size=25))
def test_client_machines_survive_any_event_order(
    method: str, reliable: bool, events: list[tuple[str, object]]
) -> None:
    request = request_for(method)
    txn = create_client_transaction(request, PEER, reliable=reliable)
    now = 0.0
    check_timers(txn.start(now), now)
    finals = 0
    ended = False
    for kind, value in events:
        now += 0.7
        if kind == "response":
            assert isinstance(value, int)
            actions = txn.receive(make_response(request, value, to_tag="t"), now)
        elif kind == "timer":
            assert isinstance(value, TimerName)
            actions = txn.timer_fired(value, now)
        else:
            actions = txn.transport_error(now)
        if ended:
            assert actions == []
        check_timers(actions, now)
        for action in actions:
            if isinstance(action, DeliverResponse) and action.response.status >= 300:
                finals += 1
        ended = ended or any(isinstance(a, TransactionTerminated) for a in actions)
    assert finals <= 1


@settings(max_examples=300, deadline=None)
@given(method=METHODS, reliable=st.booleans(), events=st.lists(server_event, max_size=25))
def test_server_machines_survive_any_event_order(
    method: str, reliable: bool, events: list[tuple[str, object]]
) -> None:
    request = request_for(method)
    txn = create_server_transaction(request, PEER, reliable=reliable)
    now = 0.0
    check_timers(txn.start(now), now)
    final_statuses: set[int] = set()
    ended = False
    last_final: SipResponse | None = None
    for kind, value in events:
        now += 0.7
        if kind == "respond":
            assert isinstance(value, int)
            response = make_response(request, value, to_tag="t")
            actions = txn.send_response(response, now)
            if value >= 200 and actions:
                last_final = response
        elif kind == "retransmission":
            actions = txn.receive(request, now)
        elif kind == "ack":
            final = last_final or make_response(request, 486, to_tag="t")
            actions = txn.receive(build_ack_for_non_2xx(request, final), now)
        elif kind == "timer":
            assert isinstance(value, TimerName)
            actions = txn.timer_fired(value, now)
        else:
            actions = txn.transport_error(now)
        if ended:
            assert actions == []
        check_timers(actions, now)
        for action in actions:
            message = action.message if isinstance(action, SendMessage) else None
            if isinstance(message, SipResponse) and message.status >= 300:
                final_statuses.add(message.status)
        ended = ended or any(isinstance(a, TransactionTerminated) for a in actions)
    assert len(final_statuses) <= 1  # never two different non-2xx finals
