"""Session timers on the callee's leg (RFC 4028, we are the UAC): what our INVITE
offers, what the callee's 2xx sets up, when a refresh or the expiry is due, and the
INVITE sent again after a 422."""

from __future__ import annotations

import pytest

from kilopbx.engine.calls_feature import CallsConfig
from kilopbx.engine.session_timer import (
    MIN_SE,
    CalleeSession,
    granted,
    offer_headers,
    raised_after_422,
)
from kilopbx.sip.headers import Headers
from kilopbx.sip.invite_client import build_invite
from kilopbx.sip.message import SipRequest, SipResponse


def ok(*headers: tuple[str, str]) -> SipResponse:
    return SipResponse(200, "OK", Headers(list(headers)), b"")


def test_our_invite_offers_the_interval_and_our_minimum() -> None:
    assert offer_headers(1800) == [
        ("Supported", "timer"),
        ("Session-Expires", "1800"),
        ("Min-SE", str(MIN_SE)),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1800;refresher=uac", CalleeSession(1800, we_refresh=True)),
        ("600;refresher=uas", CalleeSession(600, we_refresh=False)),
        ("600 ; Refresher = UAS", CalleeSession(600, we_refresh=False)),
        ("900", CalleeSession(900, we_refresh=True)),  # no refresher named: ours
        ("30;refresher=uas", CalleeSession(MIN_SE, we_refresh=False)),  # raised to Min-SE
        ("99999999;refresher=uac", CalleeSession(86_400, we_refresh=True)),
    ],
)
def test_the_callees_answer_sets_interval_and_refresher(
    value: str, expected: CalleeSession
) -> None:
    assert granted(ok(("Session-Expires", value))) == expected
    assert granted(ok(("x", value))) == expected  # the compact form


@pytest.mark.parametrize("value", ["", "soon", "-5;refresher=uac", "1234567890", ";refresher=uas"])
def test_unreadable_or_missing_means_no_timer(value: str) -> None:
    assert granted(ok(("Session-Expires", value))) is None
    assert granted(ok()) is None  # §7.2: no Session-Expires in the 2xx, no timer


def test_we_refresh_at_half_the_interval() -> None:
    session = CalleeSession(90, we_refresh=True)
    assert session.deadline(1000.0) == 1045.0
    assert session.expires_at(1000.0) == 1060.0  # 90 - min(32, 90 / 3)
    assert session.refresh_headers() == [
        ("Supported", "timer"),
        ("Session-Expires", "90;refresher=uac"),
        ("Min-SE", str(MIN_SE)),
    ]


def test_a_callee_that_refreshes_has_until_the_expiry() -> None:
    session = CalleeSession(1800, we_refresh=False)
    assert session.deadline(0.0) == session.expires_at(0.0) == 1768.0  # 1800 - 32
    assert session.answer_headers() == [
        ("Session-Expires", "1800;refresher=uac"),
        ("Require", "timer"),
    ]
    ours = CalleeSession(1800, we_refresh=True)
    assert ours.answer_headers()[0] == ("Session-Expires", "1800;refresher=uas")


def test_the_setting_is_none_or_at_least_min_se() -> None:
    assert CallsConfig.load({}, {}).session_expires == 1800.0
    assert CallsConfig.load({}, {"KILOPBX_CALL_SESSION_EXPIRES": "0"}).session_expires == 0
    assert CallsConfig.load({"calls": {"session_expires": 90}}, {}).session_expires == 90
    with pytest.raises(ValueError, match="session_expires"):
        CallsConfig.load({}, {"KILOPBX_CALL_SESSION_EXPIRES": "60"})
    with pytest.raises(ValueError):
        CallsConfig.load({}, {"KILOPBX_CALL_SESSION_EXPIRES": "forever"})


def our_invite(*extra: tuple[str, str]) -> SipRequest:
    request = build_invite(
        "sip:2002@127.0.0.1:5070",
        from_address="<sip:2001@pbx.test>",
        to_address="<sip:2002@pbx.test>",
        contact="<sip:pbx@127.0.0.1>",
        body=b"v=0\r\n",
        headers=[*offer_headers(90), *extra],
    )
    request.headers.add("Via", "SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKold")
    return request


def too_small(*headers: tuple[str, str]) -> SipResponse:
    return SipResponse(422, "Session Interval Too Small", Headers(list(headers)), b"")


def test_a_422_asks_again_with_the_callees_minimum() -> None:
    """RFC 4028 §7.4: Session-Expires and Min-SE both become the 422's Min-SE; a new
    transaction of the same call (next CSeq, same Call-ID and From tag)."""
    request = our_invite(("Authorization", "Digest old"))
    again = raised_after_422(request, too_small(("Min-SE", "120")))
    assert again is not None
    assert (again.headers.get("Session-Expires"), again.headers.get("Min-SE")) == ("120", "120")
    assert again.cseq == (request.cseq[0] + 1, "INVITE") and "Via" not in again.headers
    for same in ("Call-ID", "From", "To", "Supported", "Authorization"):
        assert again.headers.get(same) == request.headers.get(same), same
    assert again.body == request.body and again.uri == request.uri
    assert request.headers.get("Session-Expires") == "90"  # the first one is left alone


@pytest.mark.parametrize(
    "response",
    [
        too_small(),  # no Min-SE: nothing to go by
        too_small(("Min-SE", "soon")),
        too_small(("Min-SE", "90")),  # not above what we asked: asking again loops
        too_small(("Min-SE", "60")),
        too_small(("Min-SE", "86401")),  # beyond what we keep a session for
        SipResponse(486, "Busy Here", Headers([("Min-SE", "120")]), b""),
    ],
    ids=["no-min-se", "unreadable", "same", "smaller", "too-long", "not-422"],
)
def test_a_422_we_cannot_do_better_on_ends_the_branch(response: SipResponse) -> None:
    assert raised_after_422(our_invite(), response) is None


def test_a_422_to_an_invite_without_a_timer_is_not_retried() -> None:
    request = our_invite()
    request.headers.remove("Session-Expires")
    assert raised_after_422(request, too_small(("Min-SE", "120"))) is None


def test_the_offer_shares_one_supported_header_with_other_tags() -> None:
    assert offer_headers(1800, also="100rel")[0] == ("Supported", "100rel, timer")
