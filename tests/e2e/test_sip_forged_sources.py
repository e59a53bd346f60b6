"""Forged UDP sources: a flood claiming to come from an address gets its datagrams
dropped for a moment, and never a ban of that address on UDP or TCP.

The forged datagrams are written with a raw socket (IP_HDRINCL), which needs
CAP_NET_RAW; the test skips without it.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable

import pytest

from tests.e2e.sip_traffic import registers_within, registrar_pbx
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers

NUMBER, PASSWORD = "2101", "Hw3kTz8qLm2xVb7R"
VICTIM = "127.0.0.50"
FLOOD_LIMIT = 1000
FORGED = 3 * FLOOD_LIMIT


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def forged_datagram(source: str, port: int, payload: bytes) -> bytes:
    """An IPv4 packet carrying a UDP datagram from ``source`` to 127.0.0.1:``port``."""
    length = 8 + len(payload)
    src, dst = socket.inet_aton(source), socket.inet_aton("127.0.0.1")
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_UDP, length)
    header = struct.pack("!HHHH", 5060, port, length, 0)
    udp = struct.pack("!HHHH", 5060, port, length, _checksum(pseudo + header + payload))
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + length, 0, 0, 64, socket.IPPROTO_UDP, 0, src, dst
    )
    return ip + udp + payload


def raw_socket() -> socket.socket:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    except PermissionError:
        pytest.skip("forging source addresses needs CAP_NET_RAW (run as root)")
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    return sock


@pytest.fixture
def pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    return registrar_pbx(make_pbx, NUMBER, PASSWORD, KILOPBX_SIP_FLOOD_LIMIT=str(FLOOD_LIMIT))


def test_forged_flood_never_bans_the_real_owner(pbx: PbxProcess) -> None:
    raw = raw_socket()
    packet = forged_datagram(VICTIM, pbx.sip_port, b"OPTIONS sip:x SIP/2.0\r\n\r\n")
    try:
        for _ in range(FORGED):
            raw.sendto(packet, ("127.0.0.1", 0))
    finally:
        raw.close()
    port = pbx.sip_port
    # TCP from the victim is not touched by UDP volume at all
    assert registers_within(port, VICTIM, NUMBER, PASSWORD, 1.0, tcp=True)
    # over UDP the victim is heard again once the second of the burst is over (its
    # retransmissions come at 0.5 and 1.5 s)
    assert registers_within(port, VICTIM, NUMBER, PASSWORD, 2.0)
    # another address was never affected
    assert registers_within(port, "127.0.0.51", NUMBER, PASSWORD, 1.0)
    log = pbx.log_path.read_text(errors="replace")
    assert "dropping" in log and "banning" not in log, pbx.log_tail()
