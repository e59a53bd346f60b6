"""Parsed header views are remembered per message and always follow the headers."""

from __future__ import annotations

import pytest

import kilopbx.sip.message
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.parser import parse_message

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK-524287-1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Desk 1001" <sip:1001@pbx.example.com>;tag=a73kszlfl\r\n'
    b"To: <sip:1001@pbx.example.com>\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.33\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:1001@192.0.2.33:5060;transport=udp>;expires=3600\r\n"
    b"Expires: 3600\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)


def parse_request(data: bytes = REGISTER) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def refuse_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> object:
        raise AssertionError("parsed again")

    monkeypatch.setattr(kilopbx.sip.message, "parse_name_addr", refuse)
    monkeypatch.setattr(kilopbx.sip.message, "parse_via", refuse)
    monkeypatch.setattr(kilopbx.sip.message, "parse_any_uri", refuse)
    monkeypatch.setattr(kilopbx.sip.message, "parse_contacts", refuse)


def test_parser_hands_over_what_it_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    request = parse_request()
    refuse_parsing(monkeypatch)
    assert request.to.uri.user == "1001"  # type: ignore[union-attr]
    assert request.from_.tag == "a73kszlfl"
    assert request.top_via is not None and request.top_via.branch == "z9hG4bK-524287-1"
    assert [str(c.uri) for c in request.contacts] == ["sip:1001@192.0.2.33:5060;transport=udp"]
    assert str(request.request_uri) == "sip:pbx.example.com"
    # make_response reads To's tag through the same view
    to = make_response(request, 200, to_tag="x").headers.get("To")
    assert to == "<sip:1001@pbx.example.com>;tag=x"


def test_views_are_parsed_once_and_shared() -> None:
    request = parse_request()
    assert request.to is request.to
    assert request.cseq is request.cseq
    assert request.expires == 3600
    contacts = request.contacts
    contacts.clear()  # lists are copies: the next reader still sees the Contact
    assert len(request.contacts) == 1


def test_views_follow_every_kind_of_header_change() -> None:
    request = parse_request()
    headers = request.headers
    assert request.to.tag is None
    headers.set("To", "<sip:1001@pbx.example.com>;tag=abc")
    assert request.to.tag == "abc"
    headers.prepend("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-proxy")
    assert request.top_via is not None and request.top_via.host == "proxy.example.com"
    assert [via.host for via in request.vias] == ["proxy.example.com", "192.0.2.33"]
    headers.add("Contact", "<sip:1001@198.51.100.7>")
    assert [c.uri.host for c in request.contacts] == ["192.0.2.33", "198.51.100.7"]  # type: ignore[union-attr]
    headers.remove("Contact")
    assert request.contacts == []
    headers.set("CSeq", "3 REGISTER")
    assert request.cseq == (3, "REGISTER")
    headers.remove("Expires")
    assert request.expires is None
    request.uri = "sip:other.example.com"
    assert str(request.request_uri) == "sip:other.example.com"
    request.headers = Headers([("From", "<sip:carol@example.com>;tag=c")])
    assert request.from_.tag == "c"
    assert request.top_via is None


def test_a_bad_header_is_not_remembered_as_good() -> None:
    response = SipResponse(200, "OK", Headers([("To", "<sip:bob@example.com")]))
    with pytest.raises(HeaderValueError):
        _ = response.to
    with pytest.raises(HeaderValueError):
        _ = response.to
    response.headers.set("To", "<sip:bob@example.com>;tag=b")
    assert response.to.tag == "b"


def test_views_take_no_part_in_equality() -> None:
    first, second = parse_request(), parse_request()
    _ = first.to, first.contacts
    assert first == second
