"""Hostile traffic at the SIP port: garbage, scanners, password guessing. The PBX keeps
serving, bans the guesser, and a legitimate phone elsewhere still registers quickly."""

from __future__ import annotations

import os
import re
import socket
import statistics
import threading
import time
from collections.abc import Callable

import pytest

from tests.e2e.sip_traffic import MiniPhone
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers

NUMBER, AUTH_NAME, PASSWORD = "2001", "ana2001", "Kx7mPq2wRt9vBn4Z"
BAN_FAILURES = 5


@pytest.fixture
def pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    pbx = make_pbx(
        {
            "KILOPBX_SIP_BAN_FAILURES": str(BAN_FAILURES),
            "KILOPBX_SIP_BAN_SECONDS": "120",
            "KILOPBX_REGISTRAR_QUALIFY_INTERVAL": "0",
        }
    )
    token = pbx.login()
    answer = pbx.api(
        "extension/add",
        {
            "number": NUMBER,
            "username": "Ana",
            "registername": AUTH_NAME,
            "registerpassword": PASSWORD,
        },
        token=token,
    )
    assert answer["status"] == "Success", answer
    return pbx


def garbage(count: int, sender: socket.socket, port: int) -> None:
    for i in range(count):
        if i % 3 == 0:
            payload = os.urandom(40 + i % 900)
        elif i % 3 == 1:
            payload = b"REGISTER sip:x SIP/2.0\r\nVia: \x00\xff\r\nCSeq: banana\r\n\r\n"
        else:
            payload = b"INVITE " + b"A" * (i * 13 % 4000) + b" SIP/2.0\r\n\r\n"
        sender.sendto(payload, ("127.0.0.1", port))


def test_garbage_scanner_and_guessing_lead_to_ban_not_to_harm(pbx: PbxProcess) -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    attacker = MiniPhone(pbx.sip_port, "127.0.0.1")
    scanner = MiniPhone(pbx.sip_port, "127.0.0.1", user_agent="friendly-scanner")
    phone = MiniPhone(pbx.sip_port, "127.0.0.2")
    try:
        garbage(100, sender, pbx.sip_port)
        # a scanner gets no answer at all
        assert scanner.request("100", timeout=0.5) is None
        # an unknown user is challenged and then fails exactly like a wrong password
        assert attacker.request("9999").status == 401  # type: ignore[union-attr]
        assert attacker.register("9999", "nobody", "guess") == 403
        # the unknown user counts; the UDP scanner does not (its source may be forged)
        failures = 1
        while failures < BAN_FAILURES:
            assert attacker.register(NUMBER, AUTH_NAME, f"guess{failures}") == 403
            failures += 1
        # banned: even the right password from there is now ignored
        assert attacker.request(NUMBER, timeout=0.5) is None
        assert attacker.register(NUMBER, AUTH_NAME, PASSWORD, timeout=0.5) is None
        # another source registers at once
        started = time.monotonic()
        assert phone.register(NUMBER, AUTH_NAME, PASSWORD) == 200
        assert time.monotonic() - started < 1.0
        token = pbx.login()
        listing = pbx.api("extension/list", {}, token=token)["extlist"]
        assert {e["number"]: e["status"] for e in listing}[NUMBER] == "Registered"
        assert pbx.proc is not None and pbx.proc.poll() is None
    finally:
        for closable in (sender, attacker, scanner, phone):
            closable.close()


def test_garbage_flood_does_not_delay_registration_much(pbx: PbxProcess) -> None:
    stop = threading.Event()
    sent = 0

    def flood() -> None:
        nonlocal sent
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.3", 0))
        try:
            deadline = time.monotonic() + 10
            while not stop.is_set() and time.monotonic() < deadline:
                garbage(300, sock, pbx.sip_port)
                sent += 300
        finally:
            sock.close()

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    phone = MiniPhone(pbx.sip_port, "127.0.0.2")
    try:
        time.sleep(0.5)
        latencies = []
        # at least ten, and on until the flood has sent its 20,000 (registering is
        # quick now, a loaded machine sends slowly); the flooder stops after 10 s
        while len(latencies) < 10 or (sent < 20_000 and flooder.is_alive()):
            started = time.monotonic()
            assert phone.register(NUMBER, AUTH_NAME, PASSWORD) == 200
            latencies.append(time.monotonic() - started)
    finally:
        stop.set()
        flooder.join(15)
        phone.close()
    assert sent >= 20_000
    # at worst two lost datagrams, resent at 0.5 s and 1.0 s (in the moment before the
    # flood is muted it can overflow the socket buffer)
    assert max(latencies) < 1.6, latencies
    assert statistics.median(latencies) < 0.1, latencies
    # dropped while it lasts (by the volume limit, or as the top talker of a filling
    # receive queue, whichever comes first), not banned: the address proves nothing
    log = pbx.log_tail(200)
    assert re.search(r"from 127\.0\.0\.3, dropping|127\.0\.0\.3 sent \d+ of the last", log)
    assert "banning" not in log
    # and muted in the kernel, so the flood cannot fill the socket's buffer
    assert "127.0.0.3 floods, its UDP datagrams are dropped for 1 s" in log
    assert pbx.proc is not None and pbx.proc.poll() is None
    status, _, _ = pbx.http("/api/v2.0.0/heartbeat")
    assert status == 200
