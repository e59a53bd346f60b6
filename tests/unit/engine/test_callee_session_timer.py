"""Session timers on the callee's leg (RFC 4028, we are the UAC): what our INVITE
offers, what the callee's 2xx sets up, and when a refresh or the expiry is due."""

from __future__ import annotations

import pytest

from kilopbx.engine.calls_feature import CallsConfig
from kilopbx.engine.session_timer import MIN_SE, CalleeSession, granted, offer_headers
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipResponse


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
