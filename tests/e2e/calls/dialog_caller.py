"""A caller that stays in its dialog (for delayed offer and PRACK tests): it sends an
INVITE with or without SDP, collects every response, and ACKs, PRACKs or hangs up
when the test says so. Requests from the PBX (a BYE) are answered 200."""

from __future__ import annotations

import secrets
import time
from typing import Any

from kilopbx.sip.digest import build_authorization, parse_challenge
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.sip_client import Caller
from tests.harness import HOST

TIMEOUT = 10.0


class DialogCaller(Caller):
    uri = ""
    to_tag = ""
    cseq = 1
    branch = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stray: list[SipResponse] = []

    def receive(self, timeout: float = TIMEOUT) -> SipRequest | SipResponse:
        self.sock.settimeout(timeout)
        return parse_message(self.sock.recv(65535))

    def send_invite(self, dialled: str, body: bytes = b"", headers: str = "") -> None:
        """INVITE ``dialled``; the 407 round is done here, the rest is up to the test."""
        self.uri = f"sip:{dialled}@{HOST}:{self.pbx.sip_port}"
        self.call_id, self.tag = secrets.token_hex(8), secrets.token_hex(4)
        self._invite(body, headers, cseq=1)
        while True:
            message = self.receive()
            if isinstance(message, SipResponse) and message.status == 407:
                break
        branch = self.branch
        self._send(self._request("ACK", self.uri, 1, branch, to_tag=message.to.tag or "")
                   + "Content-Length: 0\r\n\r\n")  # fmt: skip
        challenge = parse_challenge(message.headers.get_all("Proxy-Authenticate")[0])
        authorization = build_authorization(
            challenge, method="INVITE", uri=self.uri, username=self.number, password=self.password
        )
        self._invite(body, f"{headers}Proxy-Authorization: {authorization}\r\n", cseq=2)

    def _invite(self, body: bytes, headers: str, *, cseq: int) -> None:
        self.cseq = cseq
        self.branch = f"z9hG4bK{secrets.token_hex(6)}"
        kind = "Content-Type: application/sdp\r\n" if body else ""
        extra = f"{headers}{kind}Content-Length: {len(body)}\r\n\r\n"
        self._send(self._request("INVITE", self.uri, cseq, self.branch, extra=extra), body)

    def responses_until(self, wanted: int, timeout: float = TIMEOUT) -> list[SipResponse]:
        """Responses to our INVITE up to the first with status ``wanted`` (or final)."""
        seen: list[SipResponse] = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.1, deadline - time.monotonic()))
            if isinstance(message, SipRequest):
                self.answer_request(message)
                continue
            if message.cseq[1] != "INVITE":
                continue
            seen.append(message)
            if message.status == wanted or message.status >= 200:
                self.to_tag = message.to.tag or self.to_tag
                return seen

    def ack(self, body: bytes = b"") -> None:
        kind = "Content-Type: application/sdp\r\n" if body else ""
        branch = f"z9hG4bK{secrets.token_hex(6)}"
        text = self._request("ACK", self.uri, self.cseq, branch, to_tag=self.to_tag)
        self._send(f"{text}{kind}Content-Length: {len(body)}\r\n\r\n", body)

    def request(self, method: str, headers: str = "", *, cseq: int) -> SipResponse:
        """An in-dialog request and its final response (retransmitted responses to
        our INVITE meanwhile are collected in ``stray``)."""
        branch = f"z9hG4bK{secrets.token_hex(6)}"
        text = self._request(method, self.uri, cseq, branch, to_tag=self.to_tag)
        self._send(f"{text}{headers}Content-Length: 0\r\n\r\n")
        while True:
            message = self.receive()
            if isinstance(message, SipRequest):
                self.answer_request(message)
            elif message.cseq[1] == method and message.status >= 200:
                return message
            else:
                self.stray.append(message)

    def cancel(self) -> None:
        """CANCEL our INVITE (its branch and CSeq number, no To tag)."""
        text = self._request("CANCEL", self.uri, self.cseq, self.branch)
        self._send(text + "Content-Length: 0\r\n\r\n")

    def prack(self, rack: str, *, cseq: int) -> SipResponse:
        return self.request("PRACK", f"RAck: {rack}\r\n", cseq=cseq)

    def wait_request(self, method: str, timeout: float = TIMEOUT) -> SipRequest:
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.1, deadline - time.monotonic()))
            if isinstance(message, SipRequest):
                self.answer_request(message)
                if message.method == method:
                    return message

    def answer_request(self, request: SipRequest) -> None:
        if request.method == "ACK":
            return
        lines = ["SIP/2.0 200 OK"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            lines += [f"{name}: {value}" for value in request.headers.get_all(name)]
        self._send("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n")
