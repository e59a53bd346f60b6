"""Checks before a new request reaches its handler: Require (420) and Max-Forwards (483)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.message import SipRequest
from kilopbx.sip.request_checks import MAX_UNSUPPORTED_LISTED, check_new_request

RequestFactory = Callable[..., SipRequest]


def with_headers(
    sip_request: RequestFactory, method: str, *pairs: tuple[str, str], **kw: object
) -> SipRequest:
    request = sip_request(method, **kw)
    for name, value in pairs:
        if name == "Max-Forwards":
            request.headers.set(name, value)
        else:
            request.headers.add(name, value)
    return request


def test_plain_request_passes(sip_request: RequestFactory) -> None:
    assert check_new_request(sip_request("OPTIONS"), frozenset()) is None
    invite = with_headers(sip_request, "INVITE", ("Contact", "<sip:a@10.0.0.1>"))
    assert check_new_request(invite, frozenset()) is None


def test_unknown_required_extension_gets_420_listing_it(sip_request: RequestFactory) -> None:
    request = with_headers(
        sip_request,
        "INVITE",
        ("Require", "100rel, Timer"),
        ("Require", "foo"),
        ("Contact", "<sip:a@10.0.0.1>"),
    )
    rejection = check_new_request(request, frozenset({"timer"}))
    assert rejection is not None and rejection.status == 420
    assert dict(rejection.headers) == {"Unsupported": "100rel, foo"}
    assert check_new_request(request, frozenset({"100rel", "timer", "foo"})) is None


@pytest.mark.parametrize("method", ["ACK", "CANCEL"])
def test_ack_and_cancel_are_never_rejected_for_require(
    sip_request: RequestFactory, method: str
) -> None:
    request = with_headers(sip_request, method, ("Require", "100rel"))
    assert check_new_request(request, frozenset()) is None


def test_hostile_require_is_not_echoed_in_full(sip_request: RequestFactory) -> None:
    tags = ", ".join(f"x{i}" for i in range(500)) + ", " + "y" * 5000
    rejection = check_new_request(with_headers(sip_request, "INFO", ("Require", tags)), ())
    assert rejection is not None and rejection.status == 420
    listed = dict(rejection.headers)["Unsupported"].split(", ")
    assert len(listed) == MAX_UNSUPPORTED_LISTED
    only_long = check_new_request(with_headers(sip_request, "INFO", ("Require", "z" * 999)), ())
    assert only_long is not None and only_long.status == 420 and only_long.headers == ()


def test_empty_require_is_harmless(sip_request: RequestFactory) -> None:
    assert check_new_request(with_headers(sip_request, "INFO", ("Require", " , ")), ()) is None


def test_max_forwards_zero_on_a_new_invite_is_483(sip_request: RequestFactory) -> None:
    rejection = check_new_request(with_headers(sip_request, "INVITE", ("Max-Forwards", "0")), ())
    assert rejection is not None and rejection.status == 483
    one_hop = with_headers(
        sip_request, "INVITE", ("Max-Forwards", "1"), ("Contact", "<sip:a@10.0.0.1>")
    )
    assert check_new_request(one_hop, ()) is None


@pytest.mark.parametrize("method", ["OPTIONS", "REGISTER"])
def test_max_forwards_zero_is_fine_for_requests_answered_here(
    sip_request: RequestFactory, method: str
) -> None:
    assert check_new_request(with_headers(sip_request, method, ("Max-Forwards", "0")), ()) is None


def test_max_forwards_zero_in_dialog_is_fine(sip_request: RequestFactory) -> None:
    request = with_headers(sip_request, "BYE", ("Max-Forwards", "0"), to_tag="t")
    assert check_new_request(request, ()) is None


def test_garbage_max_forwards_raises_header_error(sip_request: RequestFactory) -> None:
    with pytest.raises(HeaderValueError):
        check_new_request(with_headers(sip_request, "INVITE", ("Max-Forwards", "lots")), ())


@pytest.mark.parametrize(
    ("contacts", "from_tag", "reason"),
    [
        ((), "a", "Bad Contact"),
        (("<sip:a@10.0.0.1>", "<sip:b@10.0.0.2>"), "a", "Bad Contact"),
        (("*",), "a", "Bad Contact"),
        (("<tel:+15551234>",), "a", "Bad Contact"),
        (("<sip:a@10.0.0.1>",), "", "Missing From tag"),
    ],
)
def test_invite_that_cannot_make_a_dialog_gets_400(
    sip_request: RequestFactory, contacts: tuple[str, ...], from_tag: str, reason: str
) -> None:
    request = with_headers(
        sip_request, "INVITE", *(("Contact", c) for c in contacts), from_tag=from_tag
    )
    if not from_tag:
        request.headers.set("From", "<sip:alice@example.com>")
    rejection = check_new_request(request, ())
    assert rejection is not None and (rejection.status, rejection.reason) == (400, reason)


def test_invite_with_one_sip_contact_passes(sip_request: RequestFactory) -> None:
    request = with_headers(sip_request, "INVITE", ("Contact", "<sips:a@10.0.0.1;transport=tls>"))
    assert check_new_request(request, ()) is None
