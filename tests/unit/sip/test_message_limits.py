"""What one message may make the parser do: header fields, parameters and list
elements, Contact values. Beyond the limits a request is answered 400 (when its Via
and CSeq are readable) without parsing the excess."""

from __future__ import annotations

import time

import pytest

from kilopbx.sip.errors import SipParseError
from kilopbx.sip.message import SipRequest
from kilopbx.sip.message_reader import (
    MAX_CONTACTS,
    MAX_HEADER_FIELDS,
    MAX_SEPARATORS,
    MAX_SEPARATORS_PER_FIELD,
)
from kilopbx.sip.parser import StreamFramer, parse_message

HEAD = (
    "REGISTER sip:127.0.0.1{ruri} SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.10:5099;branch=z9hG4bKabc;rport\r\n"
    "From: <sip:3001@127.0.0.1>;tag=1\r\nTo: <sip:3001@127.0.0.1>\r\nCall-ID: x\r\n"
    "CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
)


def message(extra: str = "", ruri: str = "") -> bytes:
    return HEAD.format(extra=extra, ruri=ruri).encode()


def contacts(count: int, *, one_line: bool = False) -> str:
    uris = [f"<sip:3001@127.0.0.10:{5000 + i}>" for i in range(count)]
    if one_line:
        return "Contact: " + ", ".join(uris) + "\r\n"
    return "".join(f"Contact: {uri}\r\n" for uri in uris)


def refused(data: bytes) -> SipParseError:
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    return caught.value


def test_limits_leave_room_for_real_traffic() -> None:
    proxies = "".join(
        f"Record-Route: <sip:proxy{i}.example.com;lr;ftag=abc{i}>\r\n" for i in range(10)
    )
    extra = (
        contacts(MAX_CONTACTS)
        + proxies
        + "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n"
        + 'Authorization: Digest username="3001", realm="KiloPBX", nonce="n", '
        'uri="sip:127.0.0.1", response="r", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"\r\n'
    )
    request = parse_message(message(extra, ruri=";transport=udp;lr"))
    assert isinstance(request, SipRequest)
    assert len(request.contacts) == MAX_CONTACTS


def test_too_many_contacts_are_refused_before_parsing_them() -> None:
    for one_line in (False, True):
        error = refused(message(contacts(MAX_CONTACTS + 1, one_line=one_line)))
        assert error.status == 400 and error.request is not None
        assert "Contact" in error.reason


def test_thousand_contacts_cost_little() -> None:
    data = message(contacts(1000))
    started = time.perf_counter()
    error = refused(data)
    assert error.status == 400 and error.reason == "too many header fields"
    assert time.perf_counter() - started < 0.05  # the unbounded parse took ~17 ms


def test_header_field_count_is_capped() -> None:
    filler = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(MAX_HEADER_FIELDS - 7))
    assert isinstance(parse_message(message(filler)), SipRequest)
    error = refused(message(filler + "X-One-Too-Many: 1\r\n"))
    assert error.status == 400 and error.reason == "too many header fields"


def test_parameters_in_one_field_are_capped() -> None:
    params = ";".join(["p"] * (MAX_SEPARATORS_PER_FIELD + 1))
    error = refused(message(f"Contact: <sip:3001@127.0.0.10:5099;{params}>\r\n"))
    assert error.status == 400 and "too many parameters" in error.reason
    ten_thousand = ";".join(["p"] * 10_000)
    assert refused(message(f"Contact: <sip:3001@127.0.0.10;{ten_thousand}>\r\n")).status == 400


def test_parameters_over_the_whole_message_are_capped() -> None:
    per_field = ";".join(["p"] * 50)
    count = MAX_SEPARATORS // 50 + 1
    extra = "".join(f"X-Params-{i}: v;{per_field}\r\n" for i in range(count))
    error = refused(message(extra))
    assert error.status == 400 and "too many parameters" in error.reason


def test_request_uri_parameters_are_capped() -> None:
    params = ";p" * (MAX_SEPARATORS_PER_FIELD + 1)
    error = refused(message(ruri=params))
    assert error.status == 400 and "Request-URI" in error.reason


def test_a_hostile_top_via_is_not_parsed_and_not_answered() -> None:
    params = ";".join(["p"] * 5000)
    data = message().replace(b";rport", b";rport;" + params.encode())
    error = refused(data)
    assert error.status is None or error.status == 400


def test_limits_hold_on_streams() -> None:
    framer = StreamFramer()
    ten_thousand = ";".join(["p"] * 10_000)
    items = framer.feed(message(f"Contact: <sip:3001@127.0.0.10;{ten_thousand}>\r\n") + message())
    assert isinstance(items[0], SipParseError) and items[0].status == 400
    assert not items[0].fatal  # the framing survives: the next message is read
    assert isinstance(items[1], SipRequest)
    # past the field limit the Content-Length is never read: the stream is given up
    items = StreamFramer().feed(message(contacts(1000)))
    assert isinstance(items[0], SipParseError) and items[0].fatal


def test_many_parameters_spread_under_both_limits_are_accepted() -> None:
    # more separators in the whole head than one field may hold, none over a limit
    per_field = ";".join(["p"] * 60)
    extra = "".join(f"X-Params-{i}: v;{per_field}\r\n" for i in range(3))
    assert isinstance(parse_message(message(extra)), SipRequest)
