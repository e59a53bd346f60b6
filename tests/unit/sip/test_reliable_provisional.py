"""RFC 3262 as a UAS, sans IO: RSeq, retransmission until PRACK, 481 for a PRACK that
names nothing, one response in flight at a time, giving up after 64*T1."""

from __future__ import annotations

import pytest

from kilopbx.sip.message import SipRequest
from kilopbx.sip.reliable_provisional import (
    MAX_RSEQ,
    ReliableProvisionals,
    parse_rack,
    wants_reliable,
)
from tests.unit.sip.conftest import build_request

SDP = b"v=0\r\n"


def prack(rack: str | None) -> object:
    extra = (("RAck", rack),) if rack is not None else ()
    return build_request("PRACK", cseq=2, to_tag="bob-tag", extra=extra)


def headers(send: object) -> dict[str, str]:
    return dict(send.headers)  # type: ignore[attr-defined]


def test_a_provisional_goes_out_with_rseq_and_require() -> None:
    core = ReliableProvisionals(invite_cseq=7, first_rseq=100)
    (send,) = core.provisional(180, (), b"", now=0.0)
    assert (send.status, headers(send)) == (180, {"Require": "100rel", "RSeq": "100"})
    assert core.unacknowledged


def test_it_is_sent_again_at_t1_doubling_until_pracked() -> None:
    core = ReliableProvisionals(invite_cseq=7, first_rseq=5, t1=0.5)
    (first,) = core.provisional(183, (("Contact", "<sip:pbx>"),), SDP, now=0.0)
    assert core.next_timer() == 0.5
    assert core.due(0.4) == []
    assert core.due(0.5) == [first]
    assert core.next_timer() == 1.5
    assert core.due(1.5) == [first]
    assert core.next_timer() == 3.5
    assert core.prack(prack("5 7 INVITE"), now=2.0) == (200, [])  # type: ignore[arg-type]
    assert core.next_timer() is None
    assert core.due(10.0) == []


@pytest.mark.parametrize(
    "rack", [None, "6 7 INVITE", "5 8 INVITE", "5 7 BYE", "junk", "5 7", "99999999999 7 INVITE"]
)
def test_a_prack_naming_nothing_unacknowledged_is_481(rack: str | None) -> None:
    core = ReliableProvisionals(invite_cseq=7, first_rseq=5)
    core.provisional(180, (), b"", now=0.0)
    assert core.prack(prack(rack), now=0.1) == (481, [])  # type: ignore[arg-type]
    assert core.unacknowledged


def test_a_second_prack_of_the_same_response_is_481() -> None:
    core = ReliableProvisionals(invite_cseq=1, first_rseq=5)
    core.provisional(180, (), b"", now=0.0)
    assert core.prack(prack("5 1 INVITE"), now=0.1)[0] == 200  # type: ignore[arg-type]
    assert core.prack(prack("5 1 INVITE"), now=0.2)[0] == 481  # type: ignore[arg-type]


def test_only_one_in_flight_the_next_waits_for_the_prack() -> None:
    core = ReliableProvisionals(invite_cseq=1, first_rseq=9)
    core.provisional(180, (), b"", now=0.0)
    assert core.provisional(183, (), SDP, now=0.1) == []
    assert core.provisional(183, (), SDP + b"x", now=0.2) == []  # replaces the waiting 183
    status, sends = core.prack(prack("9 1 INVITE"), now=0.3)  # type: ignore[arg-type]
    assert status == 200
    (send,) = sends
    assert (send.status, send.body, headers(send)["RSeq"]) == (183, SDP + b"x", "10")
    assert core.prack(prack("10 1 INVITE"), now=0.4) == (200, [])  # type: ignore[arg-type]


def test_unacknowledged_for_64_t1_it_gives_up() -> None:
    core = ReliableProvisionals(invite_cseq=1, first_rseq=1, t1=0.5)
    core.provisional(180, (), b"", now=0.0)
    now, sent = 0.0, 0
    for _ in range(20):
        if (at := core.next_timer()) is None:
            break
        now = at
        sent += len(core.due(now))
    assert core.gave_up and now == pytest.approx(32.0)
    assert sent == 6  # at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5; 32 ends it


def test_the_final_response_stops_everything() -> None:
    core = ReliableProvisionals(invite_cseq=1, first_rseq=1)
    core.provisional(180, (), b"", now=0.0)
    core.provisional(183, (), SDP, now=0.0)
    core.final()
    assert core.next_timer() is None and core.due(5.0) == []
    assert core.provisional(180, (), b"", now=1.0) == []
    assert core.prack(prack("1 1 INVITE"), now=1.0) == (200, [])  # type: ignore[arg-type]


def test_rseq_wraps_below_2_31() -> None:
    core = ReliableProvisionals(invite_cseq=1, first_rseq=MAX_RSEQ)
    core.provisional(180, (), b"", now=0.0)
    assert core.prack(prack(f"{MAX_RSEQ} 1 INVITE"), now=0.1)[0] == 200  # type: ignore[arg-type]
    (send,) = core.provisional(183, (), SDP, now=0.2)
    assert headers(send)["RSeq"] == "1"
    with pytest.raises(ValueError):
        ReliableProvisionals(invite_cseq=1, first_rseq=0)


@pytest.mark.parametrize(
    ("extra", "offer", "wanted"),
    [
        ((("Supported", "timer, 100rel"),), SDP, True),
        ((("Require", "100REL"),), SDP, True),
        ((("k", "100rel"),), SDP, True),
        ((("Supported", "timer"),), SDP, False),
        ((("Supported", "100relx"),), SDP, False),
        ((), SDP, False),
        ((("Supported", "100rel"),), b"", False),  # no offer: ours goes in the 2xx
        ((("Require", "100rel"),), b"", True),
    ],
)
def test_who_gets_reliable_provisionals(
    extra: tuple[tuple[str, str], ...], offer: bytes, wanted: bool
) -> None:
    request = build_request("INVITE", extra=extra)
    request = SipRequest(request.method, request.uri, request.headers, offer)
    assert wants_reliable(request) is wanted


def test_rack_parsing() -> None:
    assert parse_rack("776656 1 INVITE") == (776656, 1, "INVITE")
    assert parse_rack("  1   2  invite ") == (1, 2, "INVITE")
    for bad in ("", "1 2", "a 2 INVITE", "1 -2 INVITE", "1 2 INVITE x", "١ 2 INVITE"):
        assert parse_rack(bad) is None
