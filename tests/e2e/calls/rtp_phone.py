"""The audio side of a test phone: a UDP socket that sends a tone as RTP and decodes
what comes back, so a test can tell which frequency crossed the PBX."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from kilopbx.media.codecs import Decoder, Encoder, codec_named
from kilopbx.media.dtmf import build_event, parse_event
from kilopbx.media.rtp import RtpError, build_rtp, parse_rtp
from tests.harness import HOST
from tests.media_audio import tone

FRAME_MS = 20
DTMF_PT = 101  # what every test SDP offers for telephone-event


@dataclass
class RtpPhone:
    codec: str  # PCMU, PCMA or G722
    payload_type: int
    sock: socket.socket = field(init=False)
    received: list[bytes] = field(default_factory=list)  # payloads of our codec
    sources: set[tuple[str, int]] = field(default_factory=set)
    digits: list[int] = field(default_factory=list)  # RFC 4733 events that ended

    _last_end: int = -1

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.sock.setblocking(False)

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    @property
    def rate(self) -> int:
        return codec_named(self.codec).sample_rate

    def frames(self, frequency: float, milliseconds: int) -> list[bytes]:
        encoder = Encoder(codec_named(self.codec))
        pcm = tone(frequency, self.rate, milliseconds)
        step = self.rate * FRAME_MS // 1000 * 2
        return [encoder.encode(pcm[i : i + step]) for i in range(0, len(pcm), step)]

    def send(self, destination: tuple[str, int], payload: bytes, index: int) -> None:
        packet = build_rtp(self.payload_type, index == 0, 100 + index, 160 * index, 0x1234, payload)
        self.sock.sendto(packet, destination)

    def drain(self) -> None:
        while True:
            try:
                data, source = self.sock.recvfrom(2048)
            except BlockingIOError:
                return
            try:
                packet = parse_rtp(data)
            except RtpError:
                continue
            if packet.payload_type == self.payload_type:
                self.received.append(bytes(packet.payload))
                self.sources.add(source)
            elif packet.payload_type == DTMF_PT:
                event = parse_event(packet.payload)
                if event.end and (not self.digits or self._last_end != packet.timestamp):
                    self.digits.append(event.event)
                    self._last_end = packet.timestamp

    def send_digit(self, destination: tuple[str, int], event: int, index: int) -> int:
        """One RFC 4733 digit (three updates, three end packets); returns the next index."""
        timestamp = 160 * index
        for step in range(6):
            end = step >= 3
            payload = build_event(event, end, 160 * (min(step, 3) + 1))
            packet = build_rtp(DTMF_PT, step == 0, 100 + index + step, timestamp, 0x1234, payload)
            self.sock.sendto(packet, destination)
            time.sleep(FRAME_MS / 1000)
        return index + 6

    def decoded(self) -> bytes:
        decoder = Decoder(codec_named(self.codec))
        return b"".join(decoder.decode(p) for p in self.received)

    def close(self) -> None:
        self.sock.close()


def talk(
    a: RtpPhone,
    a_to: tuple[str, int],
    b: RtpPhone,
    b_to: tuple[str, int],
    *,
    a_hz: float,
    b_hz: float,
    milliseconds: int = 1000,
    digit: int | None = None,
) -> None:
    """Both phones send their tone at the real pace and collect what they hear; then
    ``a`` presses ``digit`` (an RFC 4733 event number), if given."""
    a_frames, b_frames = a.frames(a_hz, milliseconds), b.frames(b_hz, milliseconds)
    start = time.monotonic()
    for index, (a_payload, b_payload) in enumerate(zip(a_frames, b_frames, strict=False)):
        a.send(a_to, a_payload, index)
        b.send(b_to, b_payload, index)
        a.drain()
        b.drain()
        pause = start + (index + 1) * FRAME_MS / 1000 - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    if digit is not None:  # after the tone, on the same stream: a key press
        a.send_digit(a_to, digit, len(a_frames))
    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        a.drain()
        b.drain()
        time.sleep(0.02)
