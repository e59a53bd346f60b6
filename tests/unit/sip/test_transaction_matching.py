"""Matching of requests and responses to transactions (§17.1.3, §17.2.3, §9.2)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transaction_client import create_client_transaction
from kilopbx.sip.transaction_keys import (
    build_ack_for_non_2xx,
    build_cancel,
    client_key,
    server_key,
)
from kilopbx.sip.transaction_server import ServerTransaction, create_server_transaction
from kilopbx.sip.transaction_table import TransactionTable
from kilopbx.sip.transport import Destination

RequestFactory = Callable[..., SipRequest]
ResponseFactory = Callable[..., SipResponse]
PEER = Destination("udp", "10.0.0.1", 5060)


def server(request: SipRequest) -> ServerTransaction:
    return create_server_transaction(request, PEER, reliable=False)


def test_response_matches_client_by_branch_and_cseq_method(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    table: TransactionTable = TransactionTable()
    invite = sip_request("INVITE", branch="z9hG4bK-a")
    client = create_client_transaction(invite, PEER, reliable=False)
    table.add_client(client)
    assert table.match_response(sip_response(invite, 180)) is client
    cancel = build_cancel(invite)
    assert client_key(cancel) == ("z9hG4bK-a", "CANCEL")
    assert table.match_response(sip_response(cancel, 200)) is None
    other = sip_request("INVITE", branch="z9hG4bK-b")
    assert table.match_response(sip_response(other, 180)) is None
    table.remove_client(client)
    assert table.match_response(sip_response(invite, 180)) is None


def test_retransmission_and_ack_match_the_invite_server_transaction(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    table: TransactionTable = TransactionTable()
    invite = sip_request("INVITE", branch="z9hG4bK-x")
    txn = server(invite)
    table.add_server(txn)
    retransmission = sip_request("INVITE", branch="z9hG4bK-x")
    assert table.find_server(server_key(retransmission)) is txn
    ack = build_ack_for_non_2xx(invite, sip_response(invite, 486))
    assert table.find_server(server_key(ack)) is txn


def test_same_branch_from_another_sent_by_or_method_is_another_transaction(
    sip_request: RequestFactory,
) -> None:
    table: TransactionTable = TransactionTable()
    table.add_server(server(sip_request("INVITE", branch="z9hG4bK-x")))
    elsewhere = sip_request("INVITE", branch="z9hG4bK-x", sent_by="10.0.0.9:5060")
    assert table.find_server(server_key(elsewhere)) is None
    options = sip_request("OPTIONS", branch="z9hG4bK-x")
    assert table.find_server(server_key(options)) is None


def test_cancel_finds_its_invite_but_is_its_own_transaction(sip_request: RequestFactory) -> None:
    table: TransactionTable = TransactionTable()
    invite = sip_request("INVITE", branch="z9hG4bK-c")
    txn = server(invite)
    table.add_server(txn)
    cancel = build_cancel(invite)
    assert table.find_server(server_key(cancel)) is None
    assert table.match_cancel(cancel) is txn
    cancel_txn = server(cancel)
    table.add_server(cancel_txn)
    assert table.find_server(server_key(build_cancel(invite))) is cancel_txn
    unrelated = build_cancel(sip_request("INVITE", branch="z9hG4bK-other"))
    assert table.match_cancel(unrelated) is None


def test_rfc2543_request_without_cookie_matches_by_dialog_fields(
    sip_request: RequestFactory, sip_response: ResponseFactory
) -> None:
    table: TransactionTable = TransactionTable()
    invite = sip_request("INVITE", branch="old-style-1")
    txn = server(invite)
    table.add_server(txn)
    assert table.find_server(server_key(sip_request("INVITE", branch="old-style-1"))) is txn
    ack = build_ack_for_non_2xx(invite, sip_response(invite, 404))
    assert table.find_server(server_key(ack)) is txn
    other_cseq = sip_request("INVITE", branch="old-style-1", cseq=2)
    assert table.find_server(server_key(other_cseq)) is None


def test_rfc2543_request_without_any_branch(sip_request: RequestFactory) -> None:
    invite = sip_request("INVITE")
    invite.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5060")
    table: TransactionTable = TransactionTable()
    txn = server(invite)
    table.add_server(txn)
    again = sip_request("INVITE")
    again.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5060")
    assert table.find_server(server_key(again)) is txn


def test_ack_for_2xx_is_matched_by_dialog_once(sip_request: RequestFactory) -> None:
    table: TransactionTable = TransactionTable()
    invite = sip_request("INVITE", branch="z9hG4bK-i", cseq=7)
    txn = server(invite)
    table.add_server(txn)
    table.expect_ack(invite, txn)
    ack = sip_request("ACK", branch="z9hG4bK-new", cseq=7, to_tag="bob-tag")
    assert table.find_server(server_key(ack)) is None  # new branch: not the INVITE's
    assert table.match_ack_for_2xx(ack) is txn
    assert table.match_ack_for_2xx(ack) is None
    table.expect_ack(invite, txn)
    table.remove_server(txn)
    assert table.match_ack_for_2xx(ack) is None
    assert len(table) == 0


def test_cancel_copies_identity_of_the_request(sip_request: RequestFactory) -> None:
    invite = sip_request("INVITE", branch="z9hG4bK-q", extra=(("Route", "<sip:p.example.com;lr>"),))
    cancel = build_cancel(invite)
    assert cancel.method == "CANCEL"
    assert cancel.uri == invite.uri
    assert cancel.cseq == (invite.cseq[0], "CANCEL")
    assert cancel.call_id == invite.call_id
    assert cancel.headers.get("From") == invite.headers.get("From")
    assert cancel.headers.get("To") == invite.headers.get("To")
    assert cancel.headers.get_all("Via") == invite.headers.get_all("Via")[:1]
    assert cancel.headers.get_all("Route") == ["<sip:p.example.com;lr>"]


def test_server_transactions_are_counted_per_source_host() -> None:
    table: TransactionTable[Any, Any] = TransactionTable()
    first, second, third = (SimpleNamespace(key=("b", str(n))) for n in range(3))
    table.add_server(first, "10.0.0.1")
    table.add_server(second, "10.0.0.1")
    table.add_server(third, "10.0.0.2")
    assert (table.server_count_from("10.0.0.1"), table.server_count_from("10.0.0.2")) == (2, 1)
    remnant = SimpleNamespace(key=first.key)
    table.replace_server(first, remnant)  # a remnant still holds its source's slot
    assert table.server_count_from("10.0.0.1") == 2
    table.remove_server(first)  # no longer in the table: nothing changes
    assert table.server_count_from("10.0.0.1") == 2
    table.remove_server(remnant)
    table.remove_server(second)
    assert table.server_count_from("10.0.0.1") == 0
    assert table.server_count == 1
