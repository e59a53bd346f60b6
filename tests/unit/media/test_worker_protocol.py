from __future__ import annotations

import random

import pytest

from kilopbx.media.endpoint import Endpoint, PayloadMap
from kilopbx.media.worker_service import _Leg, _RtcpProtocol, _RtpProtocol

ULAW = PayloadMap.from_pairs([(0, "PCMU")])


def _broken_leg(monkeypatch: pytest.MonkeyPatch) -> _Leg:
    endpoint = Endpoint("e1", 20000, ULAW, None, now=0.0, rng=random.Random(1))

    def explode(*args: object) -> None:
        raise RuntimeError("a bug in the relay")

    monkeypatch.setattr(endpoint, "receive", explode)
    monkeypatch.setattr(endpoint, "receive_rtcp", explode)
    return _Leg(endpoint)


def test_a_bug_costs_a_packet_not_the_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    leg = _broken_leg(monkeypatch)
    rtp = _RtpProtocol(None, leg)  # type: ignore[arg-type]  # the service is not reached
    rtcp = _RtcpProtocol(leg)
    for _ in range(3):
        rtp.datagram_received(b"\x80" * 20, ("127.0.0.1", 4000))  # must not raise
        rtcp.datagram_received(b"\x80" * 20, ("127.0.0.1", 4001))
    assert leg.endpoint.counters["errors"] == 6


def test_a_datagram_without_source_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    leg = _broken_leg(monkeypatch)
    _RtpProtocol(None, leg).datagram_received(b"x", None)  # type: ignore[arg-type]
    _RtcpProtocol(leg).datagram_received(b"x", None)
    assert leg.endpoint.counters["errors"] == 0
