"""Cheap to send, expensive to read: REGISTERs with a thousand Contacts or ten thousand
parameters from one address. They are refused without being parsed through, what
parsing they still cost is charged to their sender, and the phones, the API and the
PBX's memory do not notice."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.sip_traffic import Bystanders, registrar_pbx, rss_kib, send_paced
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers

NUMBER, PASSWORD = "2201", "Qz5mWc8nRt3kLp6V"
ATTACKER = "127.0.0.10"
RATE = 400  # datagrams a second, well under the per-source volume limit
SECONDS = 3.0


def payloads(port: int) -> Iterator[bytes]:
    head = (
        f"REGISTER sip:127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {ATTACKER}:5099;branch=z9hG4bK{{n}};rport\r\n"
        f"From: <sip:{NUMBER}@127.0.0.1>;tag={{n}}\r\nTo: <sip:{NUMBER}@127.0.0.1>\r\n"
        "Call-ID: c{n}\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
    )
    thousand_contacts = "".join(
        f"Contact: <sip:{NUMBER}@{ATTACKER}:{5000 + i}>\r\n" for i in range(1000)
    )
    many_params = f"Contact: <sip:{NUMBER}@{ATTACKER}:5099;" + ";".join(["p"] * 10_000) + ">\r\n"
    one_line = (
        "Contact: " + ", ".join(f"<sip:{NUMBER}@{ATTACKER}:{i}>" for i in range(1000)) + "\r\n"
    )
    n = 0
    while True:
        for body in (thousand_contacts, many_params, one_line):
            n += 1
            yield (head.format(n=n) + body + "Content-Length: 0\r\n\r\n").encode()


@pytest.fixture
def pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    return registrar_pbx(make_pbx, NUMBER, PASSWORD)


def test_oversized_registers_from_one_address_harm_nobody(pbx: PbxProcess) -> None:
    assert pbx.proc is not None
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind((ATTACKER, 0))
    rss_before = rss_kib(pbx.proc.pid)
    attack = ((sender, data) for data in payloads(pbx.sip_port))
    try:
        with Bystanders.of(pbx, NUMBER, PASSWORD) as bystanders:
            sent = send_paced(attack, pbx.sip_port, RATE, SECONDS)
        with Bystanders.of(pbx, NUMBER, PASSWORD) as after:  # no backlog outlives it
            time.sleep(0.3)
    finally:
        sender.close()
    assert sent >= RATE * SECONDS * 0.8
    assert len(bystanders.udp) >= 3, bystanders.report()
    assert bystanders.worst() < 1.0, bystanders.report()
    assert after.worst() < 1.0, after.report()
    assert rss_kib(pbx.proc.pid) - rss_before < 30_000
