"""Builders shared by the transaction and dialog tests (fixtures: no package import needed)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

import pytest

from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, make_response

RequestFactory = Callable[..., SipRequest]
ResponseFactory = Callable[..., SipResponse]

_branches = count(1)


def build_request(
    method: str = "INVITE",
    *,
    branch: str | None = None,
    uri: str = "sip:bob@example.com",
    sent_by: str = "10.0.0.1:5060",
    transport: str = "UDP",
    cseq: int = 1,
    cseq_method: str | None = None,
    call_id: str = "call-1@10.0.0.1",
    from_tag: str = "alice-tag",
    to_tag: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
) -> SipRequest:
    if branch is None:
        branch = f"z9hG4bK-test-{next(_branches)}"
    to = "<sip:bob@example.com>" + (f";tag={to_tag}" if to_tag else "")
    headers = Headers(
        [
            ("Via", f"SIP/2.0/{transport} {sent_by};branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:alice@example.com>;tag={from_tag}"),
            ("To", to),
            ("Call-ID", call_id),
            ("CSeq", f"{cseq} {cseq_method or method}"),
            *extra,
        ]
    )
    return SipRequest(method, uri, headers)


def build_response(
    request: SipRequest, status: int, *, to_tag: str | None = "bob-tag"
) -> SipResponse:
    return make_response(request, status, to_tag=None if status == 100 else to_tag)


@pytest.fixture
def sip_request() -> RequestFactory:
    return build_request


@pytest.fixture
def sip_response() -> ResponseFactory:
    return build_response
