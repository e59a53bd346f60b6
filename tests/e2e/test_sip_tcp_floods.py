"""Idle and trickling SIP/TCP connections against a running PBX with small connection
limits: a new phone still registers within a second, a registered phone's connection
is never the one evicted, and trickled bytes do not keep a connection alive."""

from __future__ import annotations

import contextlib
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from kilopbx.sip.digest import build_authorization, parse_challenge
from tests.e2e.socket_helpers import closed_by_peer
from tests.harness import PbxProcess

MAX_CONNECTIONS, PER_HOST = 48, 12
LIMITS = {
    "KILOPBX_SIP_TCP_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "KILOPBX_SIP_TCP_MAX_PER_HOST": str(PER_HOST),
    "KILOPBX_SIP_TCP_UNTRUSTED_IDLE": "1",
}
FLOOD_HOSTS = [f"127.0.3.{n}" for n in range(1, 7)]  # 6 x 12 = 72 > 48
NUMBER = "1001"


class TcpPhone:
    """A phone on one TCP connection, registering with MD5 digest."""

    def __init__(self, pbx: PbxProcess, source: str) -> None:
        self.pbx = pbx
        self.sock = socket.create_connection(
            ("127.0.0.1", pbx.sip_port), timeout=5, source_address=(source, 0)
        )
        self.host, self.port = self.sock.getsockname()
        self.call_id = uuid.uuid4().hex
        self.cseq = 0
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def request(self, method: str, extra: str = "", expires: int = 300) -> tuple[int, str]:
        self.cseq += 1
        lines = [
            f"{method} sip:127.0.0.1:{self.pbx.sip_port} SIP/2.0",
            f"Via: SIP/2.0/TCP {self.host}:{self.port};branch=z9hG4bK{uuid.uuid4().hex[:12]}",
            "Max-Forwards: 70",
            f"From: <sip:{NUMBER}@127.0.0.1>;tag=f{self.cseq}",
            f"To: <sip:{NUMBER}@127.0.0.1>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{NUMBER}@{self.host}:{self.port};transport=tcp>",
            f"Expires: {expires}",
        ]
        if extra:
            lines.append(extra)
        self.sock.sendall(("\r\n".join([*lines, "Content-Length: 0", "", ""])).encode())
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(65535)
            if not chunk:
                raise ConnectionResetError("the PBX closed the connection")
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        text = head.decode()
        return int(text.split(" ", 2)[1]), text

    def register(self, username: str, password: str, expires: int = 300) -> int:
        status, challenge = self.request("REGISTER", expires=expires)
        assert status == 401, challenge
        offered = re.findall(r"WWW-Authenticate: (Digest [^\r\n]+)", challenge)
        chosen = parse_challenge(next(c for c in offered if "algorithm=MD5" in c))
        auth = build_authorization(
            chosen,
            method="REGISTER",
            uri=f"sip:127.0.0.1:{self.pbx.sip_port}",
            username=username,
            password=password,
        )
        return self.request("REGISTER", f"Authorization: {auth}", expires)[0]


def _credentials(pbx: PbxProcess) -> tuple[str, str]:
    info = pbx.api("extension/query", {"number": NUMBER}, token=pbx.login())["extinfos"][0]
    return info["registername"], info["registerpassword"]


@contextlib.contextmanager
def idle_flood(pbx: PbxProcess) -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    try:
        for host in FLOOD_HOSTS:
            for _ in range(PER_HOST):
                held.append(
                    socket.create_connection(
                        ("127.0.0.1", pbx.sip_port), timeout=2, source_address=(host, 0)
                    )
                )
        yield held
    finally:
        for sock in held:
            sock.close()


@pytest.fixture
def limited_pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    return make_pbx(LIMITS)


def test_idle_flood_cannot_lock_a_new_phone_out(limited_pbx: PbxProcess) -> None:
    username, password = _credentials(limited_pbx)
    with idle_flood(limited_pbx) as held:
        time.sleep(0.3)  # the PBX has accepted them all
        started = time.monotonic()
        phone = TcpPhone(limited_pbx, "127.0.0.3")
        try:
            assert phone.register(username, password) == 200
        finally:
            phone.close()
        assert time.monotonic() - started < 1.0
        # the flood paid with its own oldest connections, not with the newcomer
        assert sum(closed_by_peer(s) for s in held) >= len(held) - MAX_CONNECTIONS


def test_registered_phone_keeps_its_connection_through_a_flood(limited_pbx: PbxProcess) -> None:
    username, password = _credentials(limited_pbx)
    phone = TcpPhone(limited_pbx, "127.0.0.4")
    try:
        assert phone.register(username, password) == 200
        with idle_flood(limited_pbx), idle_flood(limited_pbx):
            time.sleep(0.3)
            started = time.monotonic()
            assert phone.request("OPTIONS")[0] == 200  # same connection, still open
            assert time.monotonic() - started < 1.0
        # and beyond the untrusted idle time, with only keep-alive pings
        for _ in range(6):
            phone.sock.sendall(b"\r\n\r\n")
            assert phone.sock.recv(2) == b"\r\n"
            time.sleep(0.25)
        assert phone.request("OPTIONS")[0] == 200
    finally:
        phone.close()


def test_unregistering_withdraws_the_connections_trust(limited_pbx: PbxProcess) -> None:
    username, password = _credentials(limited_pbx)
    phone = TcpPhone(limited_pbx, "127.0.0.6")
    try:
        assert phone.register(username, password) == 200
        assert phone.register(username, password, expires=0) == 200
        # untrusted again: keep-alive pings no longer count, the idle time (1 s) does
        started, closed = time.monotonic(), False
        phone.sock.settimeout(0.1)
        while not closed and time.monotonic() - started < 4.0:
            try:
                phone.sock.sendall(b"\r\n\r\n")
                closed = phone.sock.recv(64) == b""  # a pong, or the end
            except TimeoutError:
                pass
            except OSError:
                closed = True
            time.sleep(0.1)
        assert closed
        assert time.monotonic() - started < 3.0
    finally:
        phone.close()


def test_trickled_bytes_do_not_keep_a_connection_open(limited_pbx: PbxProcess) -> None:
    trickler = socket.create_connection(
        ("127.0.0.1", limited_pbx.sip_port), timeout=2, source_address=("127.0.0.5", 0)
    )
    message = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.5:5060" + b"x" * 200
    started = time.monotonic()
    try:
        for index in range(len(message)):
            if closed_by_peer(trickler) or time.monotonic() - started > 4.0:
                break
            with contextlib.suppress(OSError):
                trickler.send(message[index : index + 1])
            time.sleep(0.1)
        assert closed_by_peer(trickler)
        assert time.monotonic() - started < 3.0  # 1 s idle and a sweep, not the whole message
    finally:
        trickler.close()
