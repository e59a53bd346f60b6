"""The echo test's loopback: an endpoint that is its own peer sends each packet back to
the phone it came from, in its own stream; unbridging ends it."""

from __future__ import annotations

import random
from typing import Any

from kilopbx.config import PortRange
from kilopbx.media import control as c
from kilopbx.media.endpoint import Endpoint, PayloadMap
from kilopbx.media.rtp import build_rtp, parse_rtp
from kilopbx.media.worker_service import WorkerService, _Leg, _RtpProtocol

PHONE = ("192.0.2.1", 4000)
ULAW = PayloadMap.from_pairs([(0, "PCMU"), (101, "telephone-event")])


class _Socket:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, address: Any) -> None:
        self.sent.append((data, address))


def _service_with_leg() -> tuple[WorkerService, _Leg, _Socket]:
    service = WorkerService(0, PortRange(20000, 20100), "127.0.0.1", lambda note: None)
    endpoint = Endpoint("e1", 20000, ULAW, PHONE, now=0.0, rng=random.Random(1))
    leg = _Leg(endpoint)
    sock = _Socket()
    leg.rtp = sock  # type: ignore[assignment]  # only sendto is used
    service._legs["e1"] = leg
    return service, leg, sock


def test_loopback_returns_the_phones_audio_to_it() -> None:
    service, leg, sock = _service_with_leg()
    answer = service._loopback(c.Loopback(id=1, endpoint="e1"))
    assert answer.ok and leg.peer is leg and leg.endpoint.peer is leg.endpoint
    protocol = _RtpProtocol(service, leg)
    for index in range(3):
        audio = bytes([index]) * 160
        protocol.datagram_received(build_rtp(0, index == 0, 50 + index, 160 * index,
                                             0x1234, audio), PHONE)  # fmt: skip
    assert [address for _, address in sock.sent] == [PHONE] * 3
    packets = [parse_rtp(data) for data, _ in sock.sent]
    assert [bytes(p.payload) for p in packets] == [bytes([i]) * 160 for i in range(3)]
    assert {p.ssrc for p in packets} == {leg.endpoint.tx.ssrc} != {0x1234}  # our stream
    assert [p.sequence for p in packets] == [packets[0].sequence + i for i in range(3)]


def test_unbridge_ends_the_loopback() -> None:
    service, leg, sock = _service_with_leg()
    service._loopback(c.Loopback(id=1, endpoint="e1"))
    service._unbridge(leg)
    assert leg.peer is None and leg.endpoint.peer is None
    _RtpProtocol(service, leg).datagram_received(build_rtp(0, True, 1, 0, 7, b"\0" * 160), PHONE)
    assert sock.sent == []


def test_the_command_parses_and_needs_an_endpoint() -> None:
    decoder = c.FrameDecoder()
    frames = decoder.feed(c.encode(c.Loopback(id=9, endpoint="e1")))
    assert [c.parse_command(f) for f in frames] == [c.Loopback(id=9, endpoint="e1")]
