"""RFC 3262 on the UAC side: which reliable provisional responses get a PRACK."""

from __future__ import annotations

from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipResponse
from kilopbx.sip.prack_client import PrackClient, is_reliable, rseq_of


def response(status: int = 183, *, require: str = "100rel", rseq: str = "1") -> SipResponse:
    headers = Headers()
    if require:
        headers.add("Require", require)
    if rseq:
        headers.add("RSeq", rseq)
    return SipResponse(status, "Session Progress", headers)


def test_each_reliable_response_is_acknowledged_once_in_order() -> None:
    client = PrackClient()
    assert client.rack_for(response(rseq="7"), 2) == "7 2 INVITE"
    assert client.rack_for(response(rseq="7"), 2) is None  # a retransmission
    assert client.rack_for(response(rseq="9"), 2) is None  # a gap: wait for 8
    assert client.rack_for(response(180, rseq="8"), 2) == "8 2 INVITE"


def test_unreliable_and_malformed_responses_get_nothing() -> None:
    client = PrackClient()
    assert client.rack_for(response(require=""), 1) is None
    assert client.rack_for(response(require="timer"), 1) is None
    assert client.rack_for(response(100), 1) is None
    assert client.rack_for(response(200), 1) is None
    for bad in ("", "0", "-1", "abc", "²", "99999999999", str(2**31)):
        assert client.rack_for(response(rseq=bad), 1) is None, bad
    assert client.last_rseq is None
    assert is_reliable(response(require="timer, 100REL"))
    assert rseq_of(response(rseq=" 42 ")) == 42
