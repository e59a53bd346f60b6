"""482 for an INVITE that reached us twice (§8.2.2.2), and the bound on what that
detection remembers under a flood of INVITEs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from kilopbx.sip.message import SipRequest
from kilopbx.sip.request_dispatch import MIN_MERGE_PURGE, RequestDispatch
from kilopbx.sip.transaction_keys import ServerKey, server_key
from kilopbx.sip.transaction_table import TransactionTable
from kilopbx.sip.transaction_user import ServerTransactionHandle

RequestFactory = Callable[..., SipRequest]


# A real table (the dispatch is compiled: it takes no stand-in for one) of stand-in
# transactions, which need only their key.
Table = TransactionTable[Any, Any]


@dataclass
class FakeStack:
    table: Table = field(default_factory=TransactionTable)


@dataclass
class FakeHandle:
    request: SipRequest

    @property
    def key(self) -> ServerKey:
        return server_key(self.request)


def dispatch_with(table: Table) -> RequestDispatch:
    return RequestDispatch(cast(Any, FakeStack(table)), cast(Any, object()))


def handle(request: SipRequest) -> ServerTransactionHandle:
    return cast(ServerTransactionHandle, FakeHandle(request))


def test_same_invite_by_another_branch_is_merged_while_the_first_lives(
    sip_request: RequestFactory,
) -> None:
    table: Table = TransactionTable()
    dispatch = dispatch_with(table)
    first = handle(sip_request("INVITE", branch="z9hG4bK-path-a"))
    assert not dispatch._merged(first)
    table.add_server(first)
    assert dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-path-b")))
    assert not dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-c", cseq=2)))
    assert not dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-d", from_tag="x")))
    table.remove_server(first)  # the first transaction ended: the same request is new again
    assert not dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-path-e")))


def test_a_flood_of_invites_leaves_the_index_bounded(sip_request: RequestFactory) -> None:
    table: Table = TransactionTable()
    dispatch = dispatch_with(table)
    for number in range(10 * MIN_MERGE_PURGE):
        invite = handle(sip_request("INVITE", call_id=f"flood-{number}"))
        assert not dispatch._merged(invite)
        if number % 100 == 0:  # a few stay alive, the rest ended long ago
            table.add_server(invite)
    assert len(dispatch._invites) < MIN_MERGE_PURGE + table.server_count + 1
