"""Message model, serialiser, make_response, datagram parsing and stream framing."""

from __future__ import annotations

import pytest

from kilopbx.sip.errors import HeaderValueError, SipParseError
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import (
    MissingHeader,
    SipRequest,
    SipResponse,
    make_response,
    reason_phrase,
)
from kilopbx.sip.parser import KEEPALIVE_PING, KeepAlivePing, StreamFramer, parse_message

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK-524287-1;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Desk 1001" <sip:1001@pbx.example.com>;tag=a73kszlfl\r\n'
    b"To: <sip:1001@pbx.example.com>\r\n"
    b"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.33\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:1001@192.0.2.33:5060;transport=udp>"
    b';expires=3600;+sip.instance="<urn:uuid:1>"\r\n'
    b"Expires: 3600\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n"
    b"User-Agent: Example Phone 1.0\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

CONTACT_URI = b"<sip:1001@192.0.2.33:5060;transport=udp>"


def parse_request(data: bytes) -> SipRequest:
    message = parse_message(data)
    assert isinstance(message, SipRequest)
    return message


def test_register_properties() -> None:
    msg = parse_request(REGISTER)
    assert msg.method == "REGISTER" and msg.version == "SIP/2.0"
    assert msg.call_id == "1j9FpLxk3uxtm8tn@192.0.2.33"
    assert msg.cseq == (2, "REGISTER")
    assert msg.from_.display_name == "Desk 1001" and msg.from_.tag == "a73kszlfl"
    assert msg.to.tag is None
    via = msg.top_via
    assert via is not None and via.rport == "" and via.port == 5060
    assert msg.expires == 3600 and msg.max_forwards == 70
    [contact] = msg.contacts
    assert contact.params["expires"] == "3600"
    assert not msg.is_wildcard_contact
    assert msg.content_type is None
    assert msg.headers.get_all("Allow") == ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"]


def test_serialise_round_trip_is_byte_exact_for_canonical_input() -> None:
    assert parse_request(REGISTER).to_bytes() == REGISTER


def test_to_bytes_sets_content_length() -> None:
    headers = Headers([("Via", "SIP/2.0/UDP h;branch=z9hG4bK1"), ("Content-Length", "999")])
    request = SipRequest("MESSAGE", "sip:a@b", headers, b"hello")
    assert b"Content-Length: 5\r\n\r\nhello" in request.to_bytes()
    response = SipResponse(200, "OK", Headers())
    assert response.to_bytes() == b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_wildcard_contact() -> None:
    msg = parse_request(
        REGISTER.replace(CONTACT_URI, b"*")
        .replace(b';expires=3600;+sip.instance="<urn:uuid:1>"', b"")
        .replace(b"Expires: 3600", b"Expires: 0")
    )
    assert msg.is_wildcard_contact and msg.contacts == [] and msg.expires == 0


def test_missing_and_malformed_header_views() -> None:
    request = SipRequest(
        "OPTIONS", "sip:a@b", Headers([("CSeq", "x OPTIONS"), ("Expires", "soon")])
    )
    with pytest.raises(MissingHeader):
        _ = request.call_id
    with pytest.raises(HeaderValueError):
        _ = request.cseq
    with pytest.raises(HeaderValueError):
        _ = request.expires
    assert request.top_via is None and request.vias == [] and request.max_forwards is None


def test_make_response_copies_dialog_headers() -> None:
    request = parse_request(
        REGISTER.replace(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nTimestamp: 54\r\n")
    )
    response = make_response(request, 200, to_tag="srv1", extra_headers=[("Expires", "3600")])
    assert (response.status, response.reason) == (200, "OK")
    assert response.headers.get_lines("Via") == request.headers.get_lines("Via")
    assert response.to.tag == "srv1"
    assert response.from_ == request.from_
    assert response.call_id == request.call_id and response.cseq == request.cseq
    assert response.headers.get("Expires") == "3600"
    assert "Timestamp" not in response.headers
    trying = make_response(request, 100)
    assert trying.headers.get("Timestamp") == "54" and trying.to.tag is None
    assert make_response(request, 486, "Busy Now").reason == "Busy Now"


def test_make_response_keeps_an_existing_to_tag() -> None:
    request = parse_request(
        REGISTER.replace(
            b"To: <sip:1001@pbx.example.com>", b"To: <sip:1001@pbx.example.com>;tag=old"
        )
    )
    assert make_response(request, 200, to_tag="new").to.tag == "old"


def test_reason_phrases() -> None:
    assert reason_phrase(200) == "OK"
    assert reason_phrase(481) == "Call/Transaction Does Not Exist"
    assert reason_phrase(499) == "Client Error"
    assert reason_phrase(999) == "Unknown"


def test_response_parses() -> None:
    data = make_response(
        parse_request(REGISTER),
        401,
        to_tag="x",
        extra_headers=[("WWW-Authenticate", 'Digest realm="pbx", nonce="n1", qop="auth"')],
    ).to_bytes()
    message = parse_message(data)
    assert isinstance(message, SipResponse)
    assert message.status == 401 and not message.is_provisional
    assert message.headers.get_all("WWW-Authenticate") == [
        'Digest realm="pbx", nonce="n1", qop="auth"'
    ]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", None),
        (b"\r\n\r\n", None),
        (b"garbage", None),
        (b"SIP/2.0 200\r\n\r\n", None),
        (b"SIP/3.0 200 OK\r\n" + REGISTER.split(b"\r\n", 1)[1], None),
        (b"SIP/2.0 20 OK\r\n" + REGISTER.split(b"\r\n", 1)[1], None),
        (REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: seventy"), 400),
        (REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: 256"), 400),
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 12"), 400),
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: zero"), 400),
        (REGISTER.replace(b"CSeq: 2 REGISTER", b"CSeq: two REGISTER"), None),
        (REGISTER.replace(b"Via: ", b"X-Via: "), None),
        (REGISTER.replace(b"sip:pbx.example.com SIP", b"sip:pbx.example.com SIP/2.0 SIP"), 400),
        (REGISTER.replace(b"User-Agent: Example", b"User Agent: Example"), 400),
        (REGISTER.replace(b"SIP/2.0\r\nVia", b"SIP/2.0\r\n folded\r\nVia"),
            400),
        (REGISTER.replace(b"sip:pbx.example.com SIP", b"im:pbx@example.com SIP"), 416),
        (REGISTER.replace(CONTACT_URI, b"*, <sip:a@b>"), 400),
    ],
)  # fmt: skip
def test_datagram_errors(data: bytes, status: int | None) -> None:
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.status == status, caught.value.reason
    assert (caught.value.request is None) == (status is None)


def test_datagram_leniencies() -> None:
    lf_only = REGISTER.replace(b"\r\n", b"\n")
    assert parse_request(lf_only).cseq == (2, "REGISTER")
    no_blank_line = REGISTER[:-2]
    assert parse_request(no_blank_line).call_id == "1j9FpLxk3uxtm8tn@192.0.2.33"
    no_length = REGISTER.replace(b"Content-Length: 0\r\n", b"") + b"body"
    assert parse_request(no_length).body == b"body"
    folded = REGISTER.replace(b"Allow: INVITE, ACK,", b"Allow: INVITE,\r\n\tACK,")
    assert parse_request(folded).headers.get_all("Allow")[:2] == ["INVITE", "ACK"]


# Stream framing --------------------------------------------------------------------


def test_framer_byte_by_byte_with_keepalives() -> None:
    stream = b"\r\n\r\n" + REGISTER + b"\r\n" + REGISTER + b"\r\n\r\n"
    framer = StreamFramer()
    items = []
    for offset in range(len(stream)):
        items += framer.feed(stream[offset : offset + 1])
    assert items[0] is KEEPALIVE_PING and isinstance(items[0], KeepAlivePing)
    assert [type(item) for item in items[1:3]] == [SipRequest, SipRequest]
    assert items[3] is KEEPALIVE_PING and len(items) == 4
    assert not framer.closed and framer.buffered_bytes == 0


def test_framer_with_body_split_across_reads() -> None:
    body = b"v=0\r\n" * 10
    message = REGISTER.replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode()) + body
    framer = StreamFramer()
    assert framer.feed(message[:-7]) == []
    [request] = framer.feed(message[-7:] + message[:30])
    assert isinstance(request, SipRequest) and request.body == body
    [second] = framer.feed(message[30:])
    assert isinstance(second, SipRequest)


def test_framer_reports_recoverable_errors_and_goes_on() -> None:
    bad = REGISTER.replace(b"CSeq: 2 REGISTER", b"CSeq: 2 INVITE")
    items = StreamFramer().feed(bad + REGISTER)
    assert isinstance(items[0], SipParseError) and items[0].status == 400 and not items[0].fatal
    assert isinstance(items[1], SipRequest)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (REGISTER.replace(b"Content-Length: 0\r\n", b""), 400),
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: -1"), 400),
        (REGISTER.replace(b"Content-Length: 0", b"Content-Length: 10000000"), 413),
        (b"SIP/2.0 200 OK\r\nContent-Length: 99999999\r\n\r\n", None),
        (b"\x00\x01garbage\r\n\r\n", None),
    ],
)
def test_framer_fatal_errors_close_the_stream(data: bytes, status: int | None) -> None:
    framer = StreamFramer()
    [error] = framer.feed(data)
    assert isinstance(error, SipParseError) and error.fatal and error.status == status
    assert framer.closed
    assert framer.feed(REGISTER) == []


def test_framer_caps_the_header_section() -> None:
    framer = StreamFramer(max_header_bytes=1024)
    assert framer.feed(b"INVITE sip:a@b SIP/2.0\r\n") == []
    [error] = framer.feed(b"X-Filler: " + b"a" * 2000)
    assert isinstance(error, SipParseError) and error.fatal and framer.closed


def test_framer_caps_the_whole_message() -> None:
    framer = StreamFramer(max_message_size=len(REGISTER) + 10)
    body = b"x" * 20
    big = REGISTER.replace(b"Content-Length: 0", b"Content-Length: 20") + body
    [error] = framer.feed(big)
    assert isinstance(error, SipParseError) and error.status == 413 and error.fatal


def test_numbers_past_the_int_digit_limit_are_parse_errors() -> None:
    base = (
        "OPTIONS sip:pbx@example.com SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-big\r\n"
        "Max-Forwards: {max_forwards}\r\n"
        "From: <sip:a@example.com>;tag=1\r\nTo: <sip:pbx@example.com>\r\n"
        "Call-ID: big@example.com\r\nCSeq: {cseq} OPTIONS\r\n"
        "Content-Length: {content_length}\r\n\r\n"
    )
    huge = "1" * 5000
    for field in ("max_forwards", "cseq", "content_length"):
        values = {"max_forwards": "70", "cseq": "1", "content_length": "0", field: huge}
        with pytest.raises(SipParseError) as caught:
            parse_message(base.format(**values).encode())
        assert caught.value.status == 400
