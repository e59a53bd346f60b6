"""A bare UDP caller for the paths sipp scenarios would only repeat: INVITE, answer the
407 with digest, and report the final status (ACKing it, and hanging up a 2xx)."""

from __future__ import annotations

import secrets
import socket

from kilopbx.sip.digest import build_authorization, parse_challenge
from kilopbx.sip.message import SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.peers import PASSWORD
from tests.harness import HOST, PbxProcess

SDP = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 9 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


class Caller:
    def __init__(self, pbx: PbxProcess, number: str, password: str = PASSWORD) -> None:
        self.pbx = pbx
        self.number = number
        self.password = password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.settimeout(10.0)
        self.port = self.sock.getsockname()[1]
        self.call_id = secrets.token_hex(8)
        self.tag = secrets.token_hex(4)

    def close(self) -> None:
        self.sock.close()

    def _send(self, text: str, body: bytes = b"") -> None:
        self.sock.sendto(text.encode() + body, (HOST, self.pbx.sip_port))

    def _request(
        self, method: str, uri: str, cseq: int, branch: str, *, to_tag: str = "", extra: str = ""
    ) -> str:
        to = f"<{uri}>" + (f";tag={to_tag}" if to_tag else "")
        return (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{self.port};branch={branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{self.number}@{HOST}>;tag={self.tag}\r\n"
            f"To: {to}\r\nCall-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:{self.number}@{HOST}:{self.port}>\r\n{extra}"
        )

    def final(self) -> SipResponse:
        while True:
            message = parse_message(self.sock.recv(65535))
            if isinstance(message, SipResponse) and message.status >= 200:
                return message

    def invite(
        self, dialled: str, body: bytes = SDP, *, cseq: int = 1, headers: str = ""
    ) -> SipResponse:
        """The final response to an INVITE of ``dialled`` (after the digest round);
        ``headers``: extra header lines, each ending in CRLF."""
        uri = f"sip:{dialled}@{HOST}:{self.pbx.sip_port}"
        self.call_id, self.tag = secrets.token_hex(8), secrets.token_hex(4)  # a new call
        extra = headers
        for attempt in range(2):
            branch = f"z9hG4bK{secrets.token_hex(6)}"
            length = f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
            self._send(
                self._request("INVITE", uri, cseq + attempt, branch, extra=extra + length), body
            )
            response = self.final()
            tag = response.to.tag or ""
            if response.status >= 300:
                ack = self._request("ACK", uri, cseq + attempt, branch, to_tag=tag)
                self._send(ack + "Content-Length: 0\r\n\r\n")
            if response.status != 407 or attempt:
                break
            challenge = parse_challenge(response.headers.get_all("Proxy-Authenticate")[0])
            authorization = build_authorization(
                challenge, method="INVITE", uri=uri, username=self.number, password=self.password
            )
            extra = f"{headers}Proxy-Authorization: {authorization}\r\n"
        if 200 <= response.status < 300:  # not expected here: hang it up at once
            tag = response.to.tag or ""
            ack_branch = f"z9hG4bK{secrets.token_hex(6)}"
            self._send(
                self._request("ACK", uri, cseq + 1, ack_branch, to_tag=tag)
                + "Content-Length: 0\r\n\r\n"
            )
            bye_branch = f"z9hG4bK{secrets.token_hex(6)}"
            self._send(
                self._request("BYE", uri, cseq + 2, bye_branch, to_tag=tag)
                + "Content-Length: 0\r\n\r\n"
            )
        return response
