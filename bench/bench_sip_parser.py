"""SIP message core benchmark: parse and serialise a typical REGISTER and INVITE.

Prints messages/s and µs per message for parse_message, for StreamFramer.feed and
for to_bytes. Single process, single thread; run with the project's venv.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import StreamFramer, parse_message

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


def _read_views(message: SipRequest | SipResponse) -> None:
    _ = message.call_id, message.cseq, message.top_via, message.from_, message.to


if __name__ == "__main__":
    main()
