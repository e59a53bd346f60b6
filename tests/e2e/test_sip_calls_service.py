"""`kilopbx serve` with the call engine owning INVITE: an unauthenticated INVITE is
challenged with 407, in-dialog requests for dialogs it does not have get 481, Allow
and Supported list only what is implemented, and Require/Max-Forwards are checked."""

from __future__ import annotations

import socket

from kilopbx.sip.message import SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.sip.dialog_helpers import raw_request
from tests.harness import PbxProcess

HOST = "127.0.0.1"


def exchange(sock: socket.socket, port: int, data: bytes) -> SipResponse:
    """Send ``data`` and return the first final response (skipping 100 Trying)."""
    sock.sendto(data, (HOST, port))
    while True:
        message = parse_message(sock.recv(65535))
        assert isinstance(message, SipResponse)
        if message.status >= 200:
            return message


def test_serve_challenges_calls_and_checks_dialog_requests(pbx: PbxProcess) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5.0)
    try:
        sock.bind((HOST, 0))
        me = sock.getsockname()[1]
        options = exchange(sock, pbx.sip_port, raw_request("OPTIONS", me, cseq=1))
        assert options.status == 200
        methods = "ACK CANCEL OPTIONS INVITE REGISTER SUBSCRIBE BYE INFO PRACK REFER UPDATE"
        allowed = methods.split()
        assert options.headers.get_all("Allow") == allowed
        assert options.headers.get_all("Supported") == ["100rel", "replaces", "timer"]
        challenged = exchange(sock, pbx.sip_port, raw_request("INVITE", me, cseq=2))
        assert challenged.status == 407 and challenged.headers.get("Proxy-Authenticate")
        for method in ("BYE", "INFO", "UPDATE", "INVITE"):
            stray = raw_request(method, me, to_tag="none", cseq=3)
            assert exchange(sock, pbx.sip_port, stray).status == 481, method
        require = raw_request("INVITE", me, cseq=4, extra="Require: 100rel, foo\r\n")
        rejected = exchange(sock, pbx.sip_port, require)  # 100rel is served (RFC 3262)
        assert rejected.status == 420 and rejected.headers.get("Unsupported") == "foo"
        loop = raw_request("INVITE", me, cseq=5).replace(b"Max-Forwards: 70", b"Max-Forwards: 0")
        assert exchange(sock, pbx.sip_port, loop).status == 483
    finally:
        sock.close()
