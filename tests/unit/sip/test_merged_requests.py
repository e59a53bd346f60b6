"""482 for an INVITE that reached us twice (§8.2.2.2), and the bound on what that
detection remembers under a flood of INVITEs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from kilopbx.sip.message import SipRequest
from kilopbx.sip.request_dispatch import MIN_MERGE_PURGE, RequestDispatch
from kilopbx.sip.transaction_keys import ServerKey, server_key
from kilopbx.sip.transaction_user import ServerTransactionHandle

RequestFactory = Callable[..., SipRequest]


@dataclass
class FakeTable:
    live: set[ServerKey] = field(default_factory=set)

    def find_server(self, key: ServerKey) -> object | None:
        return object() if key in self.live else None


@dataclass
class FakeStack:
    table: FakeTable = field(default_factory=FakeTable)


@dataclass
class FakeHandle:
    request: SipRequest

    @property
    def key(self) -> ServerKey:
        return server_key(self.request)


def dispatch_with(table: FakeTable) -> RequestDispatch:
    return RequestDispatch(cast(Any, FakeStack(table)), cast(Any, object()))


def handle(request: SipRequest) -> ServerTransactionHandle:
    return cast(ServerTransactionHandle, FakeHandle(request))


def test_same_invite_by_another_branch_is_merged_while_the_first_lives(
    sip_request: RequestFactory,
) -> None:
    table = FakeTable()
    dispatch = dispatch_with(table)
    first = handle(sip_request("INVITE", branch="z9hG4bK-path-a"))
    assert not dispatch._merged(first)
    table.live.add(first.key)
    assert dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-path-b")))
    assert not dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-c", cseq=2)))
    assert not dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-d", from_tag="x")))
    table.live.clear()  # the first transaction ended: the same request is new again
    assert not dispatch._merged(handle(sip_request("INVITE", branch="z9hG4bK-path-e")))


def test_a_flood_of_invites_leaves_the_index_bounded(sip_request: RequestFactory) -> None:
    table = FakeTable()
    dispatch = dispatch_with(table)
    for number in range(10 * MIN_MERGE_PURGE):
        invite = handle(sip_request("INVITE", call_id=f"flood-{number}"))
        assert not dispatch._merged(invite)
        if number % 100 == 0:  # a few stay alive, the rest ended long ago
            table.live.add(invite.key)
    assert len(dispatch._invites) < MIN_MERGE_PURGE + len(table.live) + 1
