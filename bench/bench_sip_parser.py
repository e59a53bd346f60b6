"""SIP message core benchmark: parse and serialise a typical REGISTER and INVITE.

Prints messages/s and µs per message for parse_message, for StreamFramer.feed and
for to_bytes, and the cost of everything the stack and the registrar parse and build
for one authenticated REGISTER (parse, Via stamping, transaction key, the views the
registrar reads, the 200 and its bytes; digest and tables left out), with the number
of URI and Via parses that takes. Single process, single thread; run with the
project's venv.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import kilopbx.sip.uri
import kilopbx.sip.via
from kilopbx.sip.message import SipRequest, SipResponse, make_response
from kilopbx.sip.parser import StreamFramer, parse_message
from kilopbx.sip.transaction_keys import server_key
from kilopbx.sip.transport import Source, response_destination, stamp_top_via

ROUNDS = int(os.environ.get("BENCH_SIP_ROUNDS", "20000"))

REGISTER = (
    b"REGISTER sip:pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK-524287-1---e1c9b2f4;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:1001@192.0.2.33:5060;rinstance=6f8a2c1e;transport=UDP>\r\n"
    b"To: <sip:1001@pbx.example.com>\r\n"
    b"From: <sip:1001@pbx.example.com>;tag=8e4d1a5b\r\n"
    b"Call-ID: NjMxZDU0YTE0ZWY3YjI4ZDkzMmQ5ZTFmYzc5YjRjNzA\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Expires: 3600\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    b"User-Agent: Z 5.6.1 v2.10.20.1\r\n"
    b'Authorization: Digest username="1001",realm="pbx.example.com",'
    b'nonce="AAAAZmVvhQ7d1n3Yl7zZ9x2a",uri="sip:pbx.example.com",'
    b'response="1c5c3f1b0d8e7a7f3e1d2c4b5a697887",cnonce="a1b2c3",nc=00000001,'
    b"qop=auth,algorithm=MD5\r\n"
    b"Allow-Events: presence, kpml, talk\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)

SDP = (
    b"v=0\r\no=- 1955283416 3418765339 IN IP4 192.0.2.33\r\ns=-\r\nc=IN IP4 192.0.2.33\r\n"
    b"t=0 0\r\nm=audio 10866 RTP/AVP 9 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\na=sendrecv\r\na=ptime:20\r\n"
)

INVITE = (
    b"INVITE sip:2000@pbx.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.33:5060;branch=z9hG4bK-524287-1---4a1f3e2d;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"Contact: <sip:1001@192.0.2.33:5060;transport=UDP>\r\n"
    b'To: "Reception" <sip:2000@pbx.example.com>\r\n'
    b'From: "Desk 1001" <sip:1001@pbx.example.com>;tag=b7e1c2d3\r\n'
    b"Call-ID: ZjYxNzBkNmE2ZTM0NzQ4YWI3ODg1N2ZlYjE5ZjU4YmM\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Supported: replaces, norefersub, timer\r\n"
    b"Session-Expires: 1800\r\n"
    b"User-Agent: Z 5.6.1 v2.10.20.1\r\n"
    b"Allow-Events: presence, kpml, talk\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n"
    b"\r\n" + SDP
)


def measure(label: str, rounds: int, action: Callable[[], object]) -> None:
    """Best of five timed batches: the machine is shared, the minimum is the signal."""
    for _ in range(min(1000, rounds)):  # warm caches before timing
        action()
    batch = max(1, rounds // 5)
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(batch):
            action()
        best = min(best, (time.perf_counter() - started) / batch)
    print(f"{label:38s} {1 / best:10,.0f} msg/s {best * 1e6:8.1f} µs/msg")


def main() -> None:
    print(f"rounds: {ROUNDS}")
    for name, data in (("REGISTER", REGISTER), ("INVITE+SDP", INVITE)):
        message = parse_message(data)
        measure(f"parse_message {name} ({len(data)} B)", ROUNDS, lambda d=data: parse_message(d))
        framer = StreamFramer()
        measure(f"StreamFramer.feed {name}", ROUNDS, lambda d=data, f=framer: f.feed(d))
        measure(f"to_bytes {name}", ROUNDS, message.to_bytes)
        measure(
            f"parse + read views {name}",
            ROUNDS,
            lambda d=data: _read_views(parse_message(d)),
        )
    main_register_path()


def _read_views(message: SipRequest | SipResponse) -> None:
    _ = message.call_id, message.cseq, message.top_via, message.from_, message.to


SOURCE = Source("udp", "192.0.2.33", 5060)


def register_path(data: bytes = REGISTER) -> bytes:
    """What one REGISTER costs the stack and the registrar in parsing and building,
    in the order they do it (see SipStack._on_request and apps/registrar/service.py)."""
    request = parse_message(data)
    assert isinstance(request, SipRequest)
    headers = request.headers
    _ = headers.get("User-Agent"), headers.get("From")  # scanner inspection
    top_via = stamp_top_via(request, SOURCE)
    assert top_via is not None
    server_key(request, top_via=top_via)
    destination = response_destination(top_via, SOURCE)
    _ = request.to.uri, headers.get("Authorization"), destination
    contacts = [] if request.is_wildcard_contact else [str(c.uri) for c in request.contacts]
    _ = request.cseq, request.call_id, request.expires, headers.get("User-Agent")
    to = headers.get("To") or ""
    tag = request.to.tag if "tag" in to.lower() else None  # handle.to_tag
    extra = [("Contact", f"<{uri}>;expires=3600") for uri in contacts]
    extra += [("Date", "Thu, 26 Nov 2026 22:00:00 GMT"), ("Server", "KiloPBX")]
    return make_response(request, 200, to_tag=tag or "8e4d1a5b", extra_headers=extra).to_bytes()


def count_parses(action: Callable[[], object]) -> tuple[int, int]:
    """(SIP URI parses, Via parses) one call of ``action`` makes."""
    counts = [0, 0]
    parse_sip, split_host_port = kilopbx.sip.uri._parse_sip, kilopbx.sip.via.split_host_port

    def counting_sip(*args: str) -> object:
        counts[0] += 1
        return parse_sip(*args)

    def counting_via(text: str) -> tuple[str, int | None]:
        counts[1] += 1
        return split_host_port(text)

    kilopbx.sip.uri._parse_sip = counting_sip  # type: ignore[assignment]
    kilopbx.sip.via.split_host_port = counting_via  # type: ignore[assignment]
    try:
        action()
    finally:
        kilopbx.sip.uri._parse_sip = parse_sip
        kilopbx.sip.via.split_host_port = split_host_port
    return counts[0], counts[1]


def main_register_path() -> None:
    uris, vias = count_parses(register_path)
    measure(f"REGISTER path ({uris} URI, {vias} Via parses)", ROUNDS, register_path)


if __name__ == "__main__":
    main()
