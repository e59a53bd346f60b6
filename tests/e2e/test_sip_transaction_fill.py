"""Filling the transaction table from many addresses with anonymous requests: OPTIONS
and REGISTERs without credentials are answered without keeping a transaction, so
the table (kept small here to make the attack short) has room for phones that
authenticate, and the PBX's memory stays where it was."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import pytest

from tests.e2e.sip_traffic import Bystanders, rss_kib
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers

NUMBER, PASSWORD = "2301", "Tn6vKw2mXq9cRb4H"
SOURCES = [f"127.0.0.{20 + i}" for i in range(16)]
PER_SOURCE_RATE = 100
SECONDS = 3.0
TABLE = 2_000  # what 16 x 100 a second fill in 1.25 s when each is kept 32 s


def anonymous(ip: str, port: int, n: int, pbx_port: int) -> bytes:
    method = "OPTIONS" if n % 2 else "REGISTER"
    return (
        f"{method} sip:127.0.0.1:{pbx_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {ip}:{port};branch=z9hG4bKfill{n}\r\n"
        f"From: <sip:{NUMBER}@{ip}>;tag={n}\r\nTo: <sip:{NUMBER}@127.0.0.1>\r\n"
        f"Call-ID: fill{n}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:{NUMBER}@{ip}:{port}>\r\nContent-Length: 0\r\n\r\n"
    ).encode()


@pytest.fixture
def pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    pbx = make_pbx(
        {
            "KILOPBX_SIP_MAX_TRANSACTIONS": str(TABLE),
            "KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE": str(TABLE // 4),
            "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
        }
    )
    answer = pbx.api(
        "extension/add",
        {"number": NUMBER, "username": "Flo", "registername": NUMBER, "registerpassword": PASSWORD},
        token=pbx.login(),
    )
    assert answer["status"] == "Success", answer
    return pbx


def test_anonymous_requests_from_many_sources_do_not_fill_the_table(pbx: PbxProcess) -> None:
    assert pbx.proc is not None
    token = pbx.login()
    senders = []
    for ip in SOURCES:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((ip, 0))
        sock.setblocking(False)
        senders.append(sock)
    rss_before = rss_kib(pbx.proc.pid)
    rate = PER_SOURCE_RATE * len(SOURCES)
    sent = 0
    try:
        with Bystanders(
            pbx.sip_port, lambda: pbx.api("heartbeat", {}, token=token), NUMBER, PASSWORD
        ) as bystanders:
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < SECONDS:
                sock = senders[sent % len(senders)]
                ip, port = sock.getsockname()
                data = anonymous(ip, port, sent, pbx.sip_port)
                with contextlib.suppress(BlockingIOError):  # the kernel is full: a loss
                    sock.sendto(data, ("127.0.0.1", pbx.sip_port))
                sent += 1
                ahead = sent / rate - elapsed
                if ahead > 0.005:
                    time.sleep(ahead)
    finally:
        for sock in senders:
            sock.close()
    assert sent >= TABLE * 2
    assert len(bystanders.udp) >= 3
    assert bystanders.worst() < 1.0, bystanders.report()
    assert rss_kib(pbx.proc.pid) - rss_before < 20_000
