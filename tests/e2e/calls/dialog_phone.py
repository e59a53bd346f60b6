"""A bare UDP phone that keeps its answered call: requests in its dialog (REFER,
re-INVITE...) and the PBX's requests to it (NOTIFY, BYE), each answered 200."""

from __future__ import annotations

import secrets

from kilopbx.sip.digest import build_authorization, parse_challenge
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.sip_client import SDP, Caller
from tests.harness import HOST


class TalkingCaller(Caller):
    """A Caller that keeps its answered call and sends requests in its dialog."""

    cseq = 10
    to_tag = ""

    def establish(self, dialled: str) -> None:
        uri = f"sip:{dialled}@{HOST}:{self.pbx.sip_port}"
        self.uri = uri
        extra = ""
        for attempt in range(2):
            branch = f"z9hG4bK{secrets.token_hex(6)}"
            length = f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n"
            self._send(self._request("INVITE", uri, 1 + attempt, branch, extra=extra + length), SDP)
            response = self.final()
            if response.status == 407 and not attempt:
                tag = response.to.tag or ""
                self._send(
                    self._request("ACK", uri, 1, branch, to_tag=tag) + "Content-Length: 0\r\n\r\n"
                )
                challenge = parse_challenge(response.headers.get_all("Proxy-Authenticate")[0])
                authorization = build_authorization(
                    challenge,
                    method="INVITE",
                    uri=uri,
                    username=self.number,
                    password=self.password,
                )
                extra = f"Proxy-Authorization: {authorization}\r\n"
                continue
            assert response.status == 200, response.status
            self.to_tag = response.to.tag or ""
            ack = self._request("ACK", uri, 2, f"z9hG4bK{secrets.token_hex(6)}", to_tag=self.to_tag)
            self._send(ack + "Content-Length: 0\r\n\r\n")
            return

    def in_dialog(self, method: str, headers: str = "") -> SipResponse:
        self.cseq += 1
        branch = f"z9hG4bK{secrets.token_hex(6)}"
        text = self._request(method, self.uri, self.cseq, branch, to_tag=self.to_tag, extra=headers)
        self._send(text + "Content-Length: 0\r\n\r\n")
        return self.final()

    def next_request(self) -> SipRequest:
        """The PBX's next request to us (answered 200)."""
        while True:
            message = parse_message(self.sock.recv(65535))
            if isinstance(message, SipRequest):
                self.sock.sendto(ok(message), (HOST, self.pbx.sip_port))
                return message


def ok(request: SipRequest) -> bytes:
    lines = ["SIP/2.0 200 OK"]
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        lines += [f"{name}: {value}" for value in request.headers.get_all(name)]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
