"""One address floods the SIP UDP port faster than the PBX reads: the socket's receive
queue fills, and the top talker is muted so other phones are heard at once; a flood
from the address of a registered phone never mutes that phone.

The per-source volume limit is set out of reach here, so only the receive-queue
watch (``kilopbx.sip.udp_pressure``) can mute: the test fails without it. Two sender
processes, each as fast as Python sends, outrun the PBX on any machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.sip_traffic import MiniPhone, registrar_pbx, seconds_to_register
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers

NUMBER, PASSWORD = "2201", "Qp4vXn8rTb2mLk6W"
OFFICE, PHONE_HOST = "2202", "127.0.0.4"
FLOODER = "127.0.0.3"
BYSTANDER = "127.0.0.2"
SENDERS = 2
FLOOD_SECONDS = 30.0  # at most: the test stops the senders when it is done

# Garbage of every kind, built once so the sender spends its time sending: random
# bytes (never reaches the limiter: no "SIP/2.0"), broken SIP, a request to parse.
BLAST = r"""
import os, signal, socket, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
payloads = [os.urandom(40 + i * 7) for i in range(32)]
payloads += [b"REGISTER sip:x SIP/2.0\r\nVia: \x00\xff\r\nCSeq: banana\r\n\r\n"] * 16
payloads += [b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK%d\r\n\r\n" % i
             for i in range(16)]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((host, 0))
sock.setblocking(False)
end = time.monotonic() + seconds
sent = 0
try:
    while time.monotonic() < end:
        for payload in payloads:
            try:
                sock.sendto(payload, ("127.0.0.1", port))
                sent += 1
            except BlockingIOError:
                pass
finally:
    print(sent)
"""


@pytest.fixture
def pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    pbx = registrar_pbx(make_pbx, NUMBER, PASSWORD, KILOPBX_SIP_FLOOD_LIMIT="10000000")
    token = pbx.login()
    body = {
        "number": OFFICE,
        "username": "Office",
        "registername": OFFICE,
        "registerpassword": PASSWORD,
    }
    assert pbx.api("extension/add", body, token=token)["status"] == "Success"
    return pbx


@contextmanager
def flood(pbx: PbxProcess, source: str) -> Iterator[list[int]]:
    """Garbage from ``source`` at full speed while the block runs; yields the count
    of datagrams sent (filled in when the senders stop)."""
    senders = [
        subprocess.Popen(
            [sys.executable, "-c", BLAST, source, str(pbx.sip_port), str(FLOOD_SECONDS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(SENDERS)
    ]
    counts: list[int] = []
    try:
        yield counts
    finally:
        for sender in senders:
            sender.terminate()
        for sender in senders:
            out, _ = sender.communicate(timeout=10)
            counts.append(int(out) if out.strip().isdigit() else 0)


def wait_for_log(pbx: PbxProcess, pattern: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, pbx.log_path.read_text(errors="replace")):
            return True
        time.sleep(0.05)
    return False


def test_register_is_answered_within_a_second_during_a_one_address_flood(
    pbx: PbxProcess,
) -> None:
    with flood(pbx, FLOODER):
        # the queue fills and the watch mutes the flooder
        assert wait_for_log(pbx, rf"queue \d+% full, {FLOODER} sent", 10.0), pbx.log_tail()
        latencies = []
        for _ in range(5):
            phone = MiniPhone(pbx.sip_port, BYSTANDER)
            try:
                taken, status = seconds_to_register(phone, NUMBER, PASSWORD, timeout=4.0)
            finally:
                phone.close()
            assert taken is not None, status
            latencies.append(taken)
            time.sleep(0.1)
        # over TCP too (its own socket, but the same loop)
        phone = MiniPhone(pbx.sip_port, BYSTANDER, tcp=True)
        try:
            tcp_taken, status = seconds_to_register(phone, NUMBER, PASSWORD, timeout=4.0)
        finally:
            phone.close()
        assert tcp_taken is not None and tcp_taken < 1.0, (tcp_taken, status)
    # two round trips each (challenge, then the digest), none waiting for a resend
    assert max(latencies) < 1.0, latencies
    log = pbx.log_path.read_text(errors="replace")
    assert f"{FLOODER} floods, its UDP datagrams are dropped" in log  # in the kernel too
    assert "banning" not in log and "known peer" not in log
    status, _, _ = pbx.http("/api/v2.0.0/heartbeat")
    assert status == 200


def test_a_registered_phones_address_is_never_muted_by_a_flood_in_its_name(
    pbx: PbxProcess,
) -> None:
    phone = MiniPhone(pbx.sip_port, PHONE_HOST)
    try:
        assert phone.register(OFFICE, OFFICE, PASSWORD) == 200
        with flood(pbx, PHONE_HOST) as counts:
            # under pressure the top talker is the phone's address: spared, not muted
            assert wait_for_log(pbx, rf"{PHONE_HOST} sent \d+ .* known peer", 10.0), pbx.log_tail()
            time.sleep(0.5)
        assert sum(counts) > 20_000, counts
        # the flood is over: the phone's next refresh is heard within the current
        # second (the volume cap is per second for it; a mute would last 1-8 s)
        started = time.monotonic()
        assert phone.refresh(OFFICE, OFFICE, PASSWORD, timeout=4.0) == 200
        assert time.monotonic() - started < 1.6
    finally:
        phone.close()
    log = pbx.log_path.read_text(errors="replace")
    assert f"{PHONE_HOST} floods" not in log and f"{PHONE_HOST} sent" in log
    assert not re.search(rf"full, {re.escape(PHONE_HOST)} sent", log)
    token = pbx.login()
    listing = pbx.api("extension/list", {}, token=token)["extlist"]
    assert {e["number"]: e["status"] for e in listing}[OFFICE] == "Registered"
