"""RFC 4733 telephone-events: read digits from a stream, and plan the packets to send one.

Events are relayed across a bridge untouched (only the payload type is mapped to the
other leg's number); this module is for the worker's own ends of it: noticing a
digit to tell the engine about, and producing the packet train of a digit the
engine asks us to send.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DIGITS = "0123456789*#ABCD"
_EVENT = struct.Struct("!BBH")
DEFAULT_VOLUME = 10  # -10 dBm0
PACKET_INTERVAL = 0.05  # RFC 4733 §2.5.1.2: updates every 50 ms are usual
END_REPEATS = 3  # §2.5.1.4: the end packet is sent three times


class DtmfError(ValueError):
    pass


@dataclass(frozen=True)
class TelephoneEvent:
    event: int
    end: bool
    volume: int
    duration: int  # timestamp units

    @property
    def digit(self) -> str | None:
        return DIGITS[self.event] if self.event < len(DIGITS) else None


def parse_event(payload: bytes | memoryview) -> TelephoneEvent:
    if len(payload) < 4:
        raise DtmfError(f"telephone-event payload of {len(payload)} bytes")
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def build_event(event: int, end: bool, duration: int, volume: int = DEFAULT_VOLUME) -> bytes:
    return _EVENT.pack(event, (0x80 if end else 0) | (volume & 0x3F), min(duration, 0xFFFF))


def digit_event(digit: str) -> int:
    index = DIGITS.find(digit.upper())
    if index < 0 or len(digit) != 1:
        raise DtmfError(f"not a DTMF digit: {digit!r}")
    return index


class DigitDetector:
    """Reports each received event once, when its first end packet arrives."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None  # (ssrc, event timestamp) reported

    def feed(self, ssrc: int, timestamp: int, payload: bytes | memoryview) -> TelephoneEvent | None:
        try:
            event = parse_event(payload)
        except DtmfError:
            return None
        if not event.end or event.digit is None or self._last == (ssrc, timestamp):
            return None
        self._last = (ssrc, timestamp)
        return event


@dataclass(frozen=True)
class PlannedPacket:
    delay: float  # seconds after the start of the digit
    marker: bool
    seq_step: int  # the n-th packet of the digit
    payload: bytes


def plan_digit(digit: str, duration_ms: int, clock_rate: int = 8000) -> list[PlannedPacket]:
    """The packets of one digit: start with the marker, updates every 50 ms, three ends."""
    if not 40 <= duration_ms <= 5000:
        raise DtmfError(f"digit duration {duration_ms} ms outside 40-5000 ms")
    event = digit_event(digit)
    total = duration_ms * clock_rate // 1000
    step = int(PACKET_INTERVAL * clock_rate)
    packets: list[PlannedPacket] = []
    elapsed = 0
    while elapsed < total:
        packets.append(
            PlannedPacket(
                elapsed / clock_rate,
                elapsed == 0,
                len(packets),
                build_event(event, False, min(elapsed + step, total)),
            )
        )
        elapsed += step
    for repeat in range(END_REPEATS):
        packets.append(
            PlannedPacket(
                total / clock_rate + repeat * 0.02,
                False,
                len(packets),
                build_event(event, True, total),
            )
        )
    return packets
