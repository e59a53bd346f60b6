"""Session timers asked for in an INVITE (RFC 4028): read, refused when too short."""

from __future__ import annotations

import pytest

from kilopbx.engine.b2bua import (
    B2bua,
    BranchAnswered,
    Finished,
    SendBye,
    TimerFired,
    new_branch,
    new_call,
)
from kilopbx.engine.call_model import Disposition
from kilopbx.engine.session_timer import MIN_SE, SessionTimer, TooSmall, requested
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest


def invite(*headers: tuple[str, str]) -> SipRequest:
    return SipRequest("INVITE", "sip:2002@pbx", Headers(list(headers)), b"")


def test_interval_and_refresher_taken_from_the_phone() -> None:
    timer = requested(
        invite(("Supported", "100rel, timer"), ("Session-Expires", "1800;refresher=uac"))
    )
    assert timer == SessionTimer(1800)
    assert timer.answer_headers() == [
        ("Session-Expires", "1800;refresher=uac"),
        ("Require", "timer"),
    ]


@pytest.mark.parametrize(
    ("value", "we_refresh", "answered"),
    [
        ("900", False, "900;refresher=uac"),  # none named: the caller refreshes
        ("900;refresher=uac", False, "900;refresher=uac"),
        ("900 ; Refresher = UAS", True, "900;refresher=uas"),  # §9: it stays ours
    ],
)
def test_the_refresher_the_caller_names_is_kept(
    value: str, we_refresh: bool, answered: str
) -> None:
    timer = requested(invite(("Supported", "timer"), ("Session-Expires", value)))
    assert timer == SessionTimer(900, we_refresh=we_refresh)
    assert timer.answer_headers()[0] == ("Session-Expires", answered)


@pytest.mark.parametrize(
    "headers",
    [
        (),
        (("Session-Expires", "1800"),),  # no Supported: timer, so none may be required
        (("Supported", "timer"),),
        (("Supported", "timer"), ("Session-Expires", "soon")),
        (("Supported", "timer"), ("Session-Expires", "9" * 40)),
    ],
)
def test_no_timer_when_not_asked_or_unreadable(headers: tuple[tuple[str, str], ...]) -> None:
    assert requested(invite(*headers)) is None


def test_too_short_is_refused_and_huge_is_capped() -> None:
    with pytest.raises(TooSmall):
        requested(invite(("Supported", "timer"), ("Session-Expires", str(MIN_SE - 1))))
    capped = requested(invite(("k", "timer"), ("x", "999999999")))
    assert capped is not None and capped.interval == 86_400


def test_an_unrefreshed_session_hangs_up_both_sides() -> None:
    call = new_call("c1", "2001", "2002", 0.0)
    machine = B2bua(call, ring_timeout=30.0)
    machine.ring([new_branch(call, "2002", 0)], 0.0)
    machine.handle(BranchAnswered("c1-b0"), 1.0)
    actions = machine.handle(TimerFired("session"), 1801.0)
    assert actions[:2] == [SendBye("c1-a"), SendBye("c1-b0")]
    assert Finished(Disposition.ANSWERED, "session_expired") in actions
