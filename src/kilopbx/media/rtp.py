"""RTP packets (RFC 3550 §5.1): parse with every length checked, build a plain header.

The relay never forwards what it could not account for: a datagram whose CSRC list,
header extension or padding does not fit its length is rejected here, before any
state (latching, statistics) sees it. Outgoing packets are always built fresh with a
12-byte header: the relay is the source of what it sends (RFC 3550 §7.3 translator
duties are not ours), so CSRC lists and header extensions from the far leg are dropped.
"""

from __future__ import annotations

import struct

RTP_VERSION = 2
HEADER_SIZE = 12
# 1500-byte Ethernet MTU less IP/UDP headers, rounded up: nothing audio is larger.
MAX_DATAGRAM = 1500
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32

_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not a valid RTP packet."""


class RtpPacket:
    """The fields of one received RTP packet the relay uses; the payload is a view."""

    __slots__ = ("marker", "payload", "payload_type", "sequence", "ssrc", "timestamp")

    def __init__(
        self,
        payload_type: int,
        marker: bool,
        sequence: int,
        timestamp: int,
        ssrc: int,
        payload: bytes | memoryview,
    ) -> None:
        self.payload_type = payload_type
        self.marker = marker
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload

    def __repr__(self) -> str:
        return (
            f"RtpPacket(pt={self.payload_type}, m={self.marker}, seq={self.sequence}, "
            f"ts={self.timestamp}, ssrc={self.ssrc:#010x}, {len(self.payload)} bytes)"
        )


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse and validate one datagram; raise RtpError when anything does not add up."""
    size = len(data)
    if size < HEADER_SIZE:
        raise RtpError(f"{size} bytes is shorter than an RTP header")
    if size > MAX_DATAGRAM:
        raise RtpError(f"{size} bytes is larger than any RTP packet we relay")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {first >> 6}, not 2")
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:
        # RFC 5761 §4: these collide with RTCP packet types; treat as RTCP sent to the wrong port.
        raise RtpError(f"payload type {payload_type} is reserved (RTCP conflict)")
    start = HEADER_SIZE + 4 * (first & 0x0F)
    if first & 0x10:
        if start + 4 > size:
            raise RtpError("header extension announced but missing")
        (words,) = struct.unpack_from("!H", data, start + 2)
        start += 4 + 4 * words
    end = size
    if first & 0x20:
        padding = data[-1]
        if padding == 0:
            raise RtpError("padding bit set with a zero padding count")
        end -= padding
    if start > end:
        raise RtpError("CSRC list, extension or padding longer than the packet")
    return RtpPacket(
        payload_type,
        bool(second & 0x80),
        sequence,
        timestamp,
        ssrc,
        memoryview(data)[start:end],
    )


def build_rtp(
    payload_type: int,
    marker: bool,
    sequence: int,
    timestamp: int,
    ssrc: int,
    payload: bytes | memoryview,
) -> bytes:
    """One RTP packet with a 12-byte header (no CSRC, no extension, no padding)."""
    return (
        _HEADER.pack(
            0x80,
            (0x80 if marker else 0) | payload_type,
            sequence & 0xFFFF,
            timestamp & 0xFFFFFFFF,
            ssrc,
        )
        + payload
    )


def seq_newer(a: int, b: int) -> bool:
    """True when 16-bit sequence number a comes after b (RFC 1982 serial arithmetic)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000
