"""RTCP compound packets (RFC 3550 §6.4, A.2): validate, read SR/RR, build our reports.

Each leg terminates its own RTCP: the relay reports what it received on that leg and
reads what the phone says about what we sent, so per-leg quality is known on both
sides of the bridge. Incoming compounds are checked the way A.2 asks (first packet SR
or RR, lengths add up exactly, padding only on the last) before anything is read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SR = 200
RR = 201
SDES = 202
BYE = 203
APP = 204
MAX_RTCP = 1500
# Seconds between 1900-01-01 (NTP era 0) and the Unix epoch.
NTP_EPOCH_OFFSET = 2_208_988_800

_BLOCK = struct.Struct("!IIIIII")


class RtcpError(ValueError):
    """A datagram that is not a valid RTCP compound packet."""


@dataclass(frozen=True)
class ReportBlock:
    """RFC 3550 §6.4.1: what one receiver says about one source."""

    ssrc: int
    fraction_lost: int  # fixed point /256 over the last interval
    cumulative_lost: int  # 24-bit signed
    highest_sequence: int  # extended
    jitter: int  # in timestamp units
    last_sr: int  # middle 32 bits of the NTP time of the last SR received
    delay_since_last_sr: int  # 1/65536 s

    def pack(self) -> bytes:
        lost = self.cumulative_lost & 0xFFFFFF
        return _BLOCK.pack(
            self.ssrc,
            (self.fraction_lost & 0xFF) << 24 | lost,
            self.highest_sequence & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.last_sr & 0xFFFFFFFF,
            self.delay_since_last_sr & 0xFFFFFFFF,
        )

    @classmethod
    def unpack(cls, data: bytes, offset: int) -> ReportBlock:
        ssrc, loss, highest, jitter, lsr, dlsr = _BLOCK.unpack_from(data, offset)
        lost = loss & 0xFFFFFF
        if lost & 0x800000:
            lost -= 1 << 24
        return cls(ssrc, loss >> 24, lost, highest, jitter, lsr, dlsr)


@dataclass
class RtcpReport:
    """The parts of one incoming compound the endpoint keeps."""

    sender_ssrc: int
    ntp_middle: int | None = None  # set for an SR: becomes LSR in our next report
    packets_sent: int | None = None
    octets_sent: int | None = None
    blocks: list[ReportBlock] = field(default_factory=list)
    bye: bool = False


def ntp_time(wall: float) -> tuple[int, int]:
    """Wall-clock seconds since the Unix epoch as NTP (seconds, fraction)."""
    seconds = int(wall) + NTP_EPOCH_OFFSET
    fraction = int((wall % 1.0) * (1 << 32)) & 0xFFFFFFFF
    return seconds & 0xFFFFFFFF, fraction


def ntp_middle(wall: float) -> int:
    seconds, fraction = ntp_time(wall)
    return ((seconds & 0xFFFF) << 16) | (fraction >> 16)


def parse_rtcp(data: bytes) -> RtcpReport:
    size = len(data)
    if size < 8:
        raise RtcpError(f"{size} bytes is shorter than an RTCP header")
    if size > MAX_RTCP or size % 4:
        raise RtcpError(f"RTCP compound of {size} bytes is oversized or not 32-bit aligned")
    if data[1] not in (SR, RR):
        raise RtcpError(f"compound starts with packet type {data[1]}, not SR or RR")
    report: RtcpReport | None = None
    offset = 0
    while offset < size:  # sizes are multiples of 4, so a whole header is always there
        first, packet_type, words = struct.unpack_from("!BBH", data, offset)
        if first >> 6 != 2:
            raise RtcpError(f"RTCP version {first >> 6}, not 2")
        length = 4 * (words + 1)
        end = offset + length
        if end > size:
            raise RtcpError("RTCP packet length runs past the datagram")
        if first & 0x20 and end != size:
            raise RtcpError("padding on an RTCP packet that is not the last")
        count = first & 0x1F
        if packet_type in (SR, RR):
            report = _read_report(data, offset, end, packet_type, count, report)
        elif packet_type == BYE and report is not None:
            report.bye = True
        offset = end
    assert report is not None  # the first packet was an SR or RR
    return report


def _read_report(
    data: bytes, offset: int, end: int, packet_type: int, count: int, report: RtcpReport | None
) -> RtcpReport:
    fixed = 28 if packet_type == SR else 8
    if offset + fixed + 24 * count > end:
        raise RtcpError("report blocks run past the RTCP packet")
    (ssrc,) = struct.unpack_from("!I", data, offset + 4)
    current = report if report is not None else RtcpReport(ssrc)
    if packet_type == SR and report is None:
        ntp_sec, ntp_frac, _rtp_ts, packets, octets = struct.unpack_from("!IIIII", data, offset + 8)
        current.ntp_middle = ((ntp_sec & 0xFFFF) << 16) | (ntp_frac >> 16)
        current.packets_sent = packets
        current.octets_sent = octets
    for index in range(count):
        current.blocks.append(ReportBlock.unpack(data, offset + fixed + 24 * index))
    return current


def build_report(
    ssrc: int,
    cname: bytes,
    wall: float,
    *,
    sender: tuple[int, int, int] | None,
    block: ReportBlock | None,
) -> bytes:
    """An SR (when we sent since the last report) or RR, then SDES with our CNAME.

    `sender` is (rtp_timestamp, packets_sent, octets_sent) for an SR.
    """
    blocks = block.pack() if block is not None else b""
    count = 1 if block is not None else 0
    if sender is not None:
        seconds, fraction = ntp_time(wall)
        rtp_ts, packets, octets = sender
        body = struct.pack(
            "!IIIIII",
            ssrc,
            seconds,
            fraction,
            rtp_ts & 0xFFFFFFFF,
            packets & 0xFFFFFFFF,
            octets & 0xFFFFFFFF,
        )
        head = struct.pack("!BBH", 0x80 | count, SR, (len(body) + len(blocks)) // 4)
    else:
        body = struct.pack("!I", ssrc)
        head = struct.pack("!BBH", 0x80 | count, RR, (len(body) + len(blocks)) // 4)
    return head + body + blocks + _sdes(ssrc, cname)


def _sdes(ssrc: int, cname: bytes) -> bytes:
    cname = cname[:255]
    item = bytes((1, len(cname))) + cname + b"\x00"  # CNAME item, then the end-of-list item
    chunk = struct.pack("!I", ssrc) + item
    chunk += b"\x00" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, SDES, len(chunk) // 4) + chunk
