"""Filling the transaction table from many addresses with anonymous requests: OPTIONS
and REGISTERs without credentials are answered without keeping a transaction, so
the table (kept small here to make the attack short) has room for phones that
authenticate, and the PBX's memory stays where it was."""

from __future__ import annotations

import itertools
import socket
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.sip_traffic import Bystanders, registrar_pbx, rss_kib, send_paced
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
    return registrar_pbx(
        make_pbx,
        NUMBER,
        PASSWORD,
        KILOPBX_SIP_MAX_TRANSACTIONS=str(TABLE),
        KILOPBX_SIP_MAX_TRANSACTIONS_PER_SOURCE=str(TABLE // 4),
    )


def test_anonymous_requests_from_many_sources_do_not_fill_the_table(pbx: PbxProcess) -> None:
    assert pbx.proc is not None
    senders = []
    for ip in SOURCES:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((ip, 0))
        sock.setblocking(False)
        senders.append(sock)

    def attack() -> Iterator[tuple[socket.socket, bytes]]:
        for n in itertools.count():
            sock = senders[n % len(senders)]
            ip, port = sock.getsockname()
            yield sock, anonymous(ip, port, n, pbx.sip_port)

    rss_before = rss_kib(pbx.proc.pid)
    try:
        with Bystanders.of(pbx, NUMBER, PASSWORD) as bystanders:
            rate = PER_SOURCE_RATE * len(SOURCES)
            sent = send_paced(attack(), pbx.sip_port, rate, SECONDS)
    finally:
        for sock in senders:
            sock.close()
    assert sent >= TABLE * 2
    assert len(bystanders.udp) >= 3, bystanders.report()
    assert bystanders.worst() < 1.0, bystanders.report()
    assert rss_kib(pbx.proc.pid) - rss_before < 20_000
