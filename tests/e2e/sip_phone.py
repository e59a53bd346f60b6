"""A minimal UDP phone for end-to-end tests: REGISTERs with digest from a chosen
loopback address, retransmitting like a real phone."""

from __future__ import annotations

import secrets
import socket
import time

from kilopbx.sip.digest import DigestChallenge, build_authorization, parse_challenge
from kilopbx.sip.message import SipResponse
from kilopbx.sip.parser import StreamFramer, parse_message


class MiniPhone:
    """Just enough of a UAC to send REGISTERs from a chosen loopback address, over UDP
    (with a phone's retransmissions) or over one TCP connection."""

    def __init__(
        self,
        pbx_port: int,
        local_ip: str = "127.0.0.1",
        user_agent: str = "Mini/1",
        *,
        tcp: bool = False,
    ) -> None:
        self.pbx = ("127.0.0.1", pbx_port)
        self.tcp = tcp
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
        self.sock.bind((local_ip, 0))
        if tcp:
            self.sock.settimeout(2.0)
            self.sock.connect(self.pbx)
            self.framer = StreamFramer()
        self.local_ip, self.local_port = self.sock.getsockname()
        self.user_agent = user_agent
        self.call_id = secrets.token_hex(8)
        self.cseq = 0
        self.challenge: DigestChallenge | None = None
        self.nc = 0

    def close(self) -> None:
        self.sock.close()

    def request(
        self, user: str, authorization: str | None = None, timeout: float = 4.0
    ) -> SipResponse | None:
        self.cseq += 1
        lines = [
            f"REGISTER sip:127.0.0.1:{self.pbx[1]} SIP/2.0",
            f"Via: SIP/2.0/{'TCP' if self.tcp else 'UDP'} {self.local_ip}:{self.local_port}"
            f";branch=z9hG4bK{secrets.token_hex(6)};rport",
            f"From: <sip:{user}@127.0.0.1>;tag=t{self.cseq}",
            f"To: <sip:{user}@127.0.0.1>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{user}@{self.local_ip}:{self.local_port}>",
            "Expires: 300",
            "Max-Forwards: 70",
            f"User-Agent: {self.user_agent}",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        if self.tcp:
            return self._over_tcp(data, timeout)
        # like a phone over UDP: retransmit after 0.5 s, then 1 s, 2 s ... (Timer E)
        deadline = time.monotonic() + timeout
        interval = 0.5
        while True:
            self.sock.sendto(data, self.pbx)
            resend_at = min(deadline, time.monotonic() + interval)
            interval *= 2
            while (remaining := resend_at - time.monotonic()) > 0:
                self.sock.settimeout(remaining)
                try:
                    answer = parse_message(self.sock.recv(65535))
                except TimeoutError:
                    break
                if isinstance(answer, SipResponse) and answer.status >= 200:
                    return answer
            if time.monotonic() >= deadline:
                return None

    def _over_tcp(self, data: bytes, timeout: float) -> SipResponse | None:
        self.sock.sendall(data)
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65535)
            except TimeoutError:
                return None
            if not chunk:
                return None
            for item in self.framer.feed(chunk):
                if isinstance(item, SipResponse) and item.status >= 200:
                    return item
        return None

    def register(self, user: str, username: str, password: str, timeout: float = 4.0) -> int | None:
        """REGISTER, answer the MD5 challenge, return the final status (None: silence)."""
        first = self.request(user, timeout=timeout)
        if first is None or first.status != 401:
            return None if first is None else first.status
        challenges = [parse_challenge(v) for v in first.headers.get_all("WWW-Authenticate")]
        self.challenge = next(c for c in challenges if c.algorithm == "MD5")
        self.nc = 1
        final = self.request(user, self.authorization(username, password), timeout=timeout)
        return None if final is None else final.status

    def refresh(self, user: str, username: str, password: str, timeout: float = 4.0) -> int | None:
        """REGISTER again with the last challenge and the next nonce-count, as phones
        do: one round trip instead of two."""
        if self.challenge is None:
            return self.register(user, username, password, timeout)
        self.nc += 1
        final = self.request(user, self.authorization(username, password), timeout=timeout)
        if final is not None and final.status == 401:
            self.challenge = None
        return None if final is None else final.status

    def authorization(self, username: str, password: str) -> str:
        assert self.challenge is not None
        return build_authorization(
            self.challenge,
            method="REGISTER",
            uri=f"sip:127.0.0.1:{self.pbx[1]}",
            username=username,
            password=password,
            nc=self.nc,
        )
