"""Where server transactions send their responses: §18.2.1/§18.2.2 and RFC 3581."""

from __future__ import annotations

from collections.abc import Callable

from kilopbx.sip.message import SipRequest, make_response
from kilopbx.sip.transport import (
    Destination,
    Source,
    destination_for_uri,
    response_destination,
    stamp_top_via,
)
from kilopbx.sip.uri import SipUri, parse_uri
from kilopbx.sip.via import Via

RequestFactory = Callable[..., SipRequest]


def stamped(request: SipRequest, source: Source) -> Destination:
    via = stamp_top_via(request, source)
    assert via is not None
    return response_destination(via, source)


def test_same_host_without_rport_goes_to_via_port(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="10.0.0.1:5062")
    assert stamped(request, Source("udp", "10.0.0.1", 40000)) == ("udp", "10.0.0.1", 5062)
    via = request.top_via
    assert via is not None
    assert via.received is None  # nothing to add: sent-by is the source


def test_default_port_when_via_has_none(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="10.0.0.1")
    assert stamped(request, Source("udp", "10.0.0.1", 40000)) == ("udp", "10.0.0.1", 5060)


def test_other_host_gets_received_and_answer_goes_there(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="phone.example.com:5060")
    destination = stamped(request, Source("udp", "198.51.100.7", 5060))
    assert destination == ("udp", "198.51.100.7", 5060)
    via = request.top_via
    assert via is not None
    assert via.received == "198.51.100.7"
    assert make_response(request, 200).top_via == via  # the response carries it back


def test_rport_is_filled_and_used(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="192.168.1.20:5060")
    request.headers.set("Via", "SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bK-n;rport")
    destination = stamped(request, Source("udp", "203.0.113.9", 61000))
    assert destination == ("udp", "203.0.113.9", 61000)
    via = request.top_via
    assert via is not None
    assert via.rport == "61000"
    assert via.received == "203.0.113.9"


def test_rport_with_same_host_still_adds_received(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="10.0.0.1:5060")
    request.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-s;rport")
    assert stamped(request, Source("udp", "10.0.0.1", 5070)) == ("udp", "10.0.0.1", 5070)
    via = request.top_via
    assert via is not None
    assert (via.received, via.rport) == ("10.0.0.1", "5070")


def test_lower_via_lines_survive_stamping(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="10.0.0.1:5060")
    request.headers.set("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-top;rport")
    request.headers.add("Via", "SIP/2.0/UDP 10.9.9.9;branch=z9hG4bK-lower")
    stamped(request, Source("udp", "10.0.0.3", 5060))
    vias = request.vias
    assert len(vias) == 2
    assert vias[0].received == "10.0.0.3"
    assert vias[1].branch == "z9hG4bK-lower"


def test_maddr_is_ignored_for_responses(sip_request: RequestFactory) -> None:
    request = sip_request()
    request.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5080;branch=z9hG4bK-m;maddr=239.1.1.1")
    assert stamped(request, Source("udp", "10.0.0.1", 5080)) == ("udp", "10.0.0.1", 5080)


def test_forged_received_is_removed_when_sent_by_is_the_source(
    sip_request: RequestFactory,
) -> None:
    request = sip_request()
    request.headers.set("Via", "SIP/2.0/UDP 10.0.0.1:5080;branch=z9hG4bK-f;received=192.0.2.99")
    assert stamped(request, Source("udp", "10.0.0.1", 5080)) == ("udp", "10.0.0.1", 5080)
    via = request.top_via
    assert via is not None
    assert via.received is None
    assert "192.0.2.99" not in make_response(request, 100).to_bytes().decode()


def test_forged_received_is_replaced_by_the_source(sip_request: RequestFactory) -> None:
    request = sip_request()
    request.headers.set(
        "Via", "SIP/2.0/UDP phone.example:5080;branch=z9hG4bK-g;received=192.0.2.99"
    )
    assert stamped(request, Source("udp", "10.0.0.1", 5080)) == ("udp", "10.0.0.1", 5080)
    via = request.top_via
    assert via is not None
    assert via.received == "10.0.0.1"


def test_out_of_range_or_odd_rport_falls_back_to_the_source(
    sip_request: RequestFactory,
) -> None:
    for rport in ("99999", "0", "1" * 5000, "12ab"):
        request = sip_request()
        request.headers.set("Via", f"SIP/2.0/UDP 10.0.0.1:5080;branch=z9hG4bK-r;rport={rport}")
        assert stamped(request, Source("udp", "10.0.0.1", 40000)) == ("udp", "10.0.0.1", 40000)


def test_host_name_is_never_a_destination(sip_request: RequestFactory) -> None:
    via = Via("UDP", "10.0.0.1", 5080, {"branch": "z9hG4bK-h", "received": "evil.example"})
    source = Source("udp", "10.0.0.1", 40000)
    assert response_destination(via, source) == source


def test_reliable_transport_answers_on_the_same_connection(sip_request: RequestFactory) -> None:
    request = sip_request(transport="TCP", sent_by="10.0.0.1:5060")
    source = Source("tcp", "10.0.0.1", 49152)
    assert stamped(request, source) == source


def test_ipv6_received_is_a_bare_address(sip_request: RequestFactory) -> None:
    request = sip_request(sent_by="[2001:db8::1]:5060")
    request.headers.set("Via", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK-v6;rport")
    assert stamped(request, Source("udp", "2001:db8::1", 5062)) == ("udp", "2001:db8::1", 5062)


def uri(text: str) -> SipUri:
    parsed = parse_uri(text)
    assert isinstance(parsed, SipUri)
    return parsed


def test_destination_for_uri_without_dns() -> None:
    assert destination_for_uri(uri("sip:100@10.0.0.9")) == ("udp", "10.0.0.9", 5060)
    assert destination_for_uri(uri("sip:100@10.0.0.9:5080;transport=TCP")) == (
        "tcp",
        "10.0.0.9",
        5080,
    )
    assert destination_for_uri(uri("sip:[2001:db8::5]:5062")) == ("udp", "2001:db8::5", 5062)
    assert destination_for_uri(uri("sip:x@host.example;maddr=10.1.1.1")) == (
        "udp",
        "10.1.1.1",
        5060,
    )
