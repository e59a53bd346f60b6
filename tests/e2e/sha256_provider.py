"""A minimal provider registrar on 127.0.0.1 that offers only SHA-256 digest (RFC 8760),
for trunk tests: sipp's digest code knows MD5 alone. The answer is checked here with
hashlib, independently of KiloPBX's digest module. Loopback only, one thread.

While ``refusing`` is set it answers every REGISTER 403 at once, as a provider that
turns the account away does; ``arrivals`` keeps when each REGISTER came."""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import threading
import time

REALM = "sha.test"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Sha256Provider:
    def __init__(self, user: str, password: str, granted: int = 60) -> None:
        self.user, self.password, self.granted = user, password, granted
        self.nonce = secrets.token_hex(8)
        self.accepted = 0
        self.refused = 0
        self.refusing = False
        self.arrivals: list[float] = []  # time.monotonic() of each REGISTER
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> Sha256Provider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, client = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            text = data.decode("utf-8", "replace")
            if not text.startswith("REGISTER "):
                continue
            self.arrivals.append(time.monotonic())
            self._sock.sendto(self._answer(text).encode(), client)

    def _answer(self, request: str) -> str:
        head = request.split("\r\n\r\n", 1)[0].split("\r\n")
        fields: dict[str, list[str]] = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            fields.setdefault(name.strip().lower(), []).append(value.strip())
        copied = [f"Via: {v}" for v in fields.get("via", [])]
        for name in ("From", "To", "Call-ID", "CSeq"):
            value = fields.get(name.lower(), [""])[0]
            if name == "To":
                value += ";tag=sha1"
            copied.append(f"{name}: {value}")
        authorization = fields.get("authorization", [""])[0]
        if self.refusing:
            self.refused += 1
            return "\r\n".join(["SIP/2.0 403 Forbidden", *copied, "Content-Length: 0", "", ""])
        if not authorization:
            challenge = (
                f'WWW-Authenticate: Digest realm="{REALM}", nonce="{self.nonce}", '
                'algorithm=SHA-256, qop="auth"'
            )
            return "\r\n".join(
                ["SIP/2.0 401 Unauthorized", *copied, challenge, "Content-Length: 0", "", ""]
            )
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', authorization))
        method, uri = head[0].split(" ")[0], params.get("uri", "")
        ha1 = _sha(f"{self.user}:{REALM}:{self.password}")
        ha2 = _sha(f"{method}:{uri}")
        expected = _sha(f"{ha1}:{self.nonce}:{params.get('nc')}:{params.get('cnonce')}:auth:{ha2}")
        good = (
            params.get("username") == self.user
            and params.get("algorithm") == "SHA-256"
            and params.get("response") == expected
        )
        if not good:
            self.refused += 1
            return "\r\n".join(["SIP/2.0 403 Forbidden", *copied, "Content-Length: 0", "", ""])
        self.accepted += 1
        contact = fields.get("contact", [""])[0]
        return "\r\n".join(
            ["SIP/2.0 200 OK", *copied, f"Contact: {contact};expires={self.granted}",
             "Content-Length: 0", "", ""]
        )  # fmt: skip
