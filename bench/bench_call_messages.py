"""SIP reading cost of one B2BUA call: the eight messages a 0-second call brings in.

2001 calls 2002 through the PBX (as `bench/bench_steady_calls.py` drives it with
sipp): the caller's INVITE, its ACK of the 407, the INVITE with credentials, the
callee's 180 and 200 (with SDP), the caller's ACK and BYE, and the callee's 200 to the
PBX's BYE. Each is parsed and the views the stack and the dialog layer read are read
(Call-ID, CSeq, top Via, From, To, Contact, Request-URI). Prints CPU time
(`time.thread_time`) per call, the quickest of BENCH_CALL_ROUNDS rounds of
BENCH_CALL_CALLS calls, each call with its own Call-ID, tags and branches as on the
wire. Single process, single thread.

    PYTHONPATH=src .venv/bin/python bench/bench_call_messages.py
"""

from __future__ import annotations

import os
import time

from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import parse_message

ROUNDS = int(os.environ.get("BENCH_CALL_ROUNDS", "7"))
CALLS = int(os.environ.get("BENCH_CALL_CALLS", "2000"))

SDP = (
    b"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
    b"c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
CALLER = "127.0.0.1:5061"
CALLEE = "127.0.0.1:5062"
PBX = "127.0.0.1:5060"


def _message(start: str, lines: list[str], body: bytes = b"") -> bytes:
    head = "\r\n".join([start, *lines, f"Content-Length: {len(body)}", "", ""])
    return head.encode() + body


def call_messages(n: int) -> list[bytes]:
    """The eight datagrams of call ``n`` as the PBX receives them."""
    call_id = f"{n}-4242@127.0.0.1"
    leg = f"{n}-pbx-leg@127.0.0.1"
    caller_from = f"sipp <sip:2001@127.0.0.1:5061>;tag={n}SIPpTag00{n}"
    to_pbx = "<sip:2002@127.0.0.1:5060>"
    pbx_tag = f"as{n:08x}"
    pbx_from = f'"2001" <sip:2001@127.0.0.1:5060>;tag=pbx{n:08x}'
    to_callee = "<sip:2002@127.0.0.1:5062>"
    callee_tag = f"{n}SIPpTag01{n}"

    def caller(method: str, branch: str, cseq: int, to: str, extra: list[str]) -> list[str]:
        return [
            f"Via: SIP/2.0/UDP {CALLER};branch=z9hG4bK-{n}-{branch}",
            f"From: {caller_from}",
            f"To: {to}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} {method}",
            "Max-Forwards: 70",
            *extra,
        ]

    def callee(status: str, cseq: str, branch: str, extra: list[str]) -> list[str]:
        return [
            f"Via: SIP/2.0/UDP {PBX};branch=z9hG4bK{branch}{n:08x};rport=5060",
            f"From: {pbx_from}",
            f"To: {to_callee};tag={callee_tag}",
            f"Call-ID: {leg}",
            f"CSeq: {cseq}",
            *extra,
        ]

    contact_caller = f"Contact: <sip:2001@{CALLER};transport=UDP>"
    contact_callee = f"Contact: <sip:2002@{CALLEE};transport=UDP>"
    auth = (
        'Proxy-Authorization: Digest username="2001",realm="kilopbx",'
        f'uri="sip:2002@{PBX}",nonce="AAAA{n}",response="0123456789abcdef0123456789abcdef",'
        "algorithm=MD5"
    )
    sdp_type = "Content-Type: application/sdp"
    invite = f"INVITE sip:2002@{PBX} SIP/2.0"
    return [
        _message(invite, caller("INVITE", "0", 1, to_pbx, [contact_caller, sdp_type]), SDP),
        _message(f"ACK sip:2002@{PBX} SIP/2.0", caller("ACK", "0", 1, f"{to_pbx};tag=x", [])),
        _message(invite, caller("INVITE", "1", 2, to_pbx, [contact_caller, auth, sdp_type]), SDP),
        _message("SIP/2.0 180 Ringing", callee("180", "1 INVITE", "a", [contact_callee])),
        _message("SIP/2.0 200 OK", callee("200", "1 INVITE", "a", [contact_callee, sdp_type]), SDP),
        _message(
            f"ACK sip:2002@{PBX} SIP/2.0",
            caller("ACK", "2", 2, f"{to_pbx};tag={pbx_tag}", [contact_caller]),
        ),
        _message(
            f"BYE sip:2002@{PBX} SIP/2.0",
            caller("BYE", "3", 3, f"{to_pbx};tag={pbx_tag}", [contact_caller]),
        ),
        _message("SIP/2.0 200 OK", callee("200", "2 BYE", "b", [])),
    ]


def read(data: bytes) -> None:
    message = parse_message(data)
    _ = message.call_id, message.cseq, message.top_via, message.from_, message.to
    _ = message.from_.tag, message.to.tag, message.contacts
    if isinstance(message, SipRequest):
        _ = message.request_uri
    else:
        assert isinstance(message, SipResponse)


def main() -> None:
    calls = [call_messages(n) for n in range(CALLS)]
    for messages in calls[:200]:  # warm up
        for data in messages:
            read(data)
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.thread_time()
        for messages in calls:
            for data in messages:
                read(data)
        best = min(best, (time.thread_time() - started) / CALLS)
    load = os.getloadavg()[0]
    print(f"reading the 8 messages of one call: {best * 1e6:.1f} µs CPU (quickest of {ROUNDS}")
    print(f"rounds of {CALLS} calls; load average {load:.1f})")


if __name__ == "__main__":
    main()
