from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx.media.rtp import RtpError, build_rtp, parse_rtp, seq_newer


def test_build_then_parse_round_trips() -> None:
    data = build_rtp(8, True, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"\xd5" * 160)
    packet = parse_rtp(data)
    assert (packet.payload_type, packet.marker, packet.sequence) == (8, True, 65535)
    assert (packet.timestamp, packet.ssrc) == (0xFFFFFFFF, 0xDEADBEEF)
    assert bytes(packet.payload) == b"\xd5" * 160


def _header(first: int, pt: int = 0) -> bytes:
    return struct.pack("!BBHII", first, pt, 1, 2, 3)


def test_csrc_extension_and_padding_are_skipped() -> None:
    csrc = struct.pack("!II", 7, 8)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x01\x02\x03\x04"
    payload = b"audio!"
    padding = b"\x00\x00\x03"
    data = _header(0x80 | 0x20 | 0x10 | 2) + csrc + extension + payload + padding
    assert bytes(parse_rtp(data).payload) == payload


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter"),
        (b"\x80\x00" + b"\x00" * 9, "shorter"),
        (_header(0x40) + b"x", "version"),
        (_header(0xC0) + b"x", "version"),
        (_header(0x80, 72) + b"x", "reserved"),
        (_header(0x80, 0x80 | 76) + b"x", "reserved"),
        (_header(0x80 | 15) + b"\x00" * 40, "longer than"),
        (_header(0x90), "extension"),
        (_header(0x90) + struct.pack("!HH", 0, 100) + b"\x00" * 8, "longer than"),
        (_header(0xA0) + b"ab\x00", "zero padding"),
        (_header(0xA0) + b"ab\x10", "longer than"),
        (_header(0x80) + b"\x00" * 1500, "larger"),
    ],
)
def test_malformed_packets_are_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(RtpError, match=reason):
        parse_rtp(data)


@settings(deadline=None)  # CPU time on a shared machine is not the test's subject
@given(st.binary(max_size=1600))
def test_any_datagram_parses_or_raises_rtp_error(data: bytes) -> None:
    try:
        packet = parse_rtp(data)
    except RtpError:
        return
    assert 0 <= len(packet.payload) <= len(data) - 12


def test_sequence_comparison_wraps() -> None:
    assert seq_newer(0, 65535)
    assert not seq_newer(65535, 0)
    assert not seq_newer(5, 5)
