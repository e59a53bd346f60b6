from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx.media.rtcp import (
    ReportBlock,
    RtcpError,
    build_report,
    ntp_middle,
    parse_rtcp,
)

BLOCK = ReportBlock(0x1111, 12, -3, 70000, 80, 0xABCD1234, 65536)


def test_sender_report_round_trips() -> None:
    wall = 1_700_000_000.25
    data = build_report(0x2222, b"kilopbx", wall, sender=(160, 50, 8000), block=BLOCK)
    assert len(data) % 4 == 0
    report = parse_rtcp(data)
    assert report.sender_ssrc == 0x2222
    assert report.ntp_middle == ntp_middle(wall)
    assert (report.packets_sent, report.octets_sent) == (50, 8000)
    assert report.blocks == [BLOCK]


def test_receiver_report_without_blocks() -> None:
    report = parse_rtcp(build_report(0x3333, b"x" * 300, 0.0, sender=None, block=None))
    assert report.sender_ssrc == 0x3333
    assert report.ntp_middle is None and report.blocks == []


def _rr(count: int = 0, words: int = 1, first: int = 0x80) -> bytes:
    return struct.pack("!BBHI", first | count, 201, words, 5)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x80\xc9\x00", "shorter"),
        (_rr() + b"\x00", "aligned"),
        (struct.pack("!BBHI", 0x81, 202, 1, 5), "not SR or RR"),
        (_rr(words=5), "runs past"),
        (_rr(count=1), "run past"),
        (_rr(first=0x40), "version"),
        (_rr(first=0xA0) + _rr(), "padding"),
        (_rr() * 200, "oversized"),
    ],
)
def test_malformed_compounds_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(RtcpError, match=reason):
        parse_rtcp(data)


@settings(deadline=None)  # CPU time on a shared machine is not the test's subject
@given(st.binary(max_size=1600))
def test_any_datagram_parses_or_raises_rtcp_error(data: bytes) -> None:
    with contextlib.suppress(RtcpError):
        parse_rtcp(data)


def test_negative_cumulative_loss_survives_24_bits() -> None:
    assert ReportBlock.unpack(BLOCK.pack(), 0).cumulative_lost == -3
