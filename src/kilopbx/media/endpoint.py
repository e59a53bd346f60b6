"""One media endpoint (a call leg's RTP/RTCP pair), sans IO.

The endpoint owns everything the relay decides per packet: validation, latching,
receive statistics, and the outgoing stream it sends to its phone (our SSRC,
rewritten sequence and timestamps, the codec the phone negotiated). Bridging two
endpoints is just pointing each at the other: a packet received on A is turned into
the datagram B sends, by a header rewrite when B speaks A's codec and by transcoding
when it does not. The worker passes datagrams and the time in and sends what comes
out; nothing here touches a socket or reads a clock.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .codecs import TELEPHONE_EVENT, Codec, CodecError, Decoder, Transcoder, codec_named
from .dtmf import DigitDetector
from .inband_dtmf import InbandDetector
from .latch import Address, Latch
from .rewriter import LOCAL_SOURCE, StreamRewriter
from .rtcp import ReportBlock, RtcpError, build_report, parse_rtcp
from .rtp import RtpError, RtpPacket, build_rtp, parse_rtp
from .stats import ReceiveStats

RTCP_INTERVAL = 5.0


@dataclass(frozen=True)
class PayloadMap:
    """The payload types negotiated on one leg, from its SDP answer."""

    audio: dict[int, Codec]
    by_name: dict[str, int]
    send_pt: int  # the first audio codec listed: what we send when we must choose
    event_pt: int | None
    event_rate: int = 8000

    @property
    def send_codec(self) -> Codec:
        return self.audio[self.send_pt]

    @classmethod
    def from_pairs(cls, codecs: list[tuple[int, str]]) -> PayloadMap:
        audio: dict[int, Codec] = {}
        by_name: dict[str, int] = {}
        event_pt: int | None = None
        first: int | None = None
        for pt, name in codecs:
            if not 0 <= pt <= 127 or 72 <= pt <= 76:
                raise CodecError(f"payload type {pt} is not usable for RTP")
            if pt in audio or pt == event_pt:
                raise CodecError(f"payload type {pt} listed twice")
            if name.lower() == TELEPHONE_EVENT:
                event_pt = pt
                continue
            codec = codec_named(name)
            audio[pt] = codec
            by_name.setdefault(codec.name, pt)
            first = pt if first is None else first
        if first is None:
            raise CodecError("no audio codec negotiated")
        return cls(audio, by_name, first, event_pt)


class Endpoint:
    def __init__(
        self,
        endpoint_id: str,
        port: int,
        payloads: PayloadMap,
        remote: Address | None,
        *,
        now: float,
        rng: random.Random,
        rtp_timeout: float = 0.0,
        rtcp_interval: float = RTCP_INTERVAL,
        cname: bytes = b"kilopbx",
    ) -> None:
        self.id = endpoint_id
        self.port = port
        self.payloads = payloads
        self.latch = Latch(remote)
        self.rtcp_address: Address | None = None
        self.rx = ReceiveStats()
        self.tx = StreamRewriter(rng)
        self.peer: Endpoint | None = None
        self.detector = DigitDetector()
        # (digit, duration ms, "rfc4733" or "inband") for the worker to report
        self.digits: list[tuple[str, int, str]] = []
        self._inband: tuple[Codec, Decoder, InbandDetector] | None = None
        self.rtp_timeout = rtp_timeout
        self.last_rx = now
        self.timeout_reported = False
        self.local_until = 0.0  # while we send our own packets, the relayed stream waits
        self.muted = False  # call/mute: what our phone sends reaches nobody
        self.playing = False  # a player feeds this leg: the relayed stream waits too
        # recorders and mixes listening to what the phone sends: (codec, payload)
        self.taps: list[Callable[[Codec, bytes], None]] = []
        self.cname = cname
        self._transcoders: dict[str, Transcoder] = {}
        self._last_sr: tuple[int, float] | None = None  # (NTP middle, when it arrived)
        self._packets_at_report = 0
        self.rtcp_interval = rtcp_interval
        # RFC 3550 §6.3.5: randomise so that many legs created together do not report in step
        self.next_rtcp = now + rtcp_interval * (0.5 + rng.random())
        self.remote_report: ReportBlock | None = None
        self.counters = {
            "malformed": 0,
            "stray": 0,
            "unknown_payload": 0,
            "unroutable": 0,
            "rtcp_received": 0,
            "rtcp_malformed": 0,
            "rtcp_sent": 0,
            "errors": 0,
        }

    # ---- configuration -------------------------------------------------------------

    def modify(
        self, payloads: PayloadMap | None, remote: Address | None, rtp_timeout: float | None
    ) -> None:
        """A re-INVITE: new codecs and/or address. The outgoing stream stays continuous."""
        if payloads is not None:
            self.payloads = payloads
            self._transcoders.clear()
        if remote is not None:
            self.latch.reset(remote)
            self.rtcp_address = None
        if rtp_timeout is not None:
            self.rtp_timeout = rtp_timeout
            self.timeout_reported = False

    # ---- RTP in, RTP out -----------------------------------------------------------

    def receive(self, data: bytes, source: Address, now: float) -> tuple[bytes, Address] | None:
        """A datagram arrived on our RTP port; return what the bridged peer sends, if any."""
        try:
            packet = parse_rtp(data)
        except RtpError:
            self.counters["malformed"] += 1
            return None
        pt = packet.payload_type
        codec = self.payloads.audio.get(pt)
        if codec is None and pt != self.payloads.event_pt:
            self.counters["unknown_payload"] += 1
            return None
        if not self.latch.accept(source, packet.ssrc, packet.sequence, now):
            self.counters["stray"] += 1
            return None
        self.last_rx = now
        self.rx.update(
            packet.ssrc,
            packet.sequence,
            packet.timestamp,
            now * 8000.0 if codec is not None else None,
            len(packet.payload),
        )
        if codec is not None:
            if self.taps and not self.muted:  # a muted phone is not mixed in either
                audio = bytes(packet.payload)
                for tap in self.taps:
                    tap(codec, audio)
            if self.payloads.event_pt is None:
                self._listen(codec, packet.payload)
        else:
            event = self.detector.feed(packet.ssrc, packet.timestamp, packet.payload)
            if event is not None and event.digit is not None:
                duration = event.duration * 1000 // self.payloads.event_rate
                self.digits.append((event.digit, duration, "rfc4733"))
        peer = self.peer
        if peer is None or self.muted:
            return None
        return peer.relay(packet, codec, now)

    def _listen(self, codec: Codec, payload: bytes | memoryview) -> None:
        """In-band DTMF on a leg without telephone-event: decode and look for keys."""
        inband = self._inband
        if inband is None or inband[0] is not codec:
            inband = (codec, Decoder(codec), InbandDetector(codec.sample_rate))
            self._inband = inband
        for found in inband[2].feed(inband[1].decode(bytes(payload))):
            self.digits.append((found.digit, found.duration_ms, "inband"))

    def relay(
        self, packet: RtpPacket, codec: Codec | None, now: float
    ) -> tuple[bytes, Address] | None:
        """Turn a packet received on the peer into the datagram we send to our phone."""
        destination = self.latch.send_address
        if destination is None or now < self.local_until or self.playing:
            self.counters["unroutable"] += 1
            return None
        payload: bytes | memoryview = packet.payload
        if codec is None:
            out_pt = self.payloads.event_pt
            if out_pt is None:
                self.counters["unroutable"] += 1
                return None
        else:
            mapped = self.payloads.by_name.get(codec.name)
            if mapped is not None:
                out_pt = mapped
            else:
                out_pt = self.payloads.send_pt
                payload = self._transcoder(codec).convert(bytes(payload))
        seq, ts, marker = self.tx.rewrite(
            packet.ssrc, packet.sequence, packet.timestamp, packet.marker, now, len(payload)
        )
        return build_rtp(out_pt, marker, seq, ts, self.tx.ssrc, payload), destination

    def _transcoder(self, source: Codec) -> Transcoder:
        transcoder = self._transcoders.get(source.name)
        if transcoder is None:
            transcoder = Transcoder(source, self.payloads.send_codec)
            self._transcoders[source.name] = transcoder
        return transcoder

    def local_packet(
        self,
        payload_type: int,
        marker: bool,
        seq: int,
        timestamp: int,
        payload: bytes,
        now: float,
        *,
        source: int = LOCAL_SOURCE,
    ) -> tuple[bytes, Address] | None:
        """A packet the worker makes itself (a digit, a prompt), in our continuous stream;
        `source` tells the rewriter which of our own streams it belongs to."""
        destination = self.latch.send_address
        if destination is None:
            return None
        out_seq, out_ts, out_marker = self.tx.rewrite(
            source, seq, timestamp, marker, now, len(payload)
        )
        return build_rtp(payload_type, out_marker, out_seq, out_ts, self.tx.ssrc, payload), (
            destination
        )

    # ---- RTCP ----------------------------------------------------------------------

    def receive_rtcp(self, data: bytes, source: Address, now: float) -> None:
        rtp_from = self.latch.address or self.latch.signalled
        if rtp_from is None or source[0] != rtp_from[0]:
            self.counters["rtcp_malformed"] += 1  # from a host that is not our peer
            return
        try:
            report = parse_rtcp(data)
        except RtcpError:
            self.counters["rtcp_malformed"] += 1
            return
        self.counters["rtcp_received"] += 1
        self.rtcp_address = source
        if report.ntp_middle is not None:
            self._last_sr = (report.ntp_middle, now)
        for block in report.blocks:
            if block.ssrc == self.tx.ssrc:
                self.remote_report = block

    def rtcp_report(self, now: float, wall: float) -> tuple[bytes, Address] | None:
        """Our SR or RR for this leg, when one is due and we know where to send it."""
        self.next_rtcp = now + self.rtcp_interval
        destination = self.rtcp_address
        if destination is None:
            rtp_to = self.latch.send_address
            if rtp_to is None:
                return None
            destination = (rtp_to[0], rtp_to[1] + 1)  # RFC 3550 §11: RTCP on RTP port + 1
        last_sr, delay = 0, 0
        if self._last_sr is not None:
            last_sr = self._last_sr[0]
            delay = int((now - self._last_sr[1]) * 65536)
        sender = None
        if self.tx.packets > self._packets_at_report:
            sender = (self.tx.current_timestamp(now), self.tx.packets, self.tx.octets)
        self._packets_at_report = self.tx.packets
        block = self.rx.report_block(last_sr, delay)
        self.counters["rtcp_sent"] += 1
        return build_report(self.tx.ssrc, self.cname, wall, sender=sender, block=block), destination

    # ---- timers and figures --------------------------------------------------------

    def check_timeout(self, now: float) -> bool:
        """True once, when no RTP has arrived for `rtp_timeout` seconds (0 = never)."""
        if self.rtp_timeout <= 0 or self.timeout_reported:
            return False
        if now - self.last_rx < self.rtp_timeout:
            return False
        self.timeout_reported = True
        return True

    def stats(self) -> dict[str, Any]:
        remote = self.remote_report
        return {
            "endpoint": self.id,
            "port": self.port,
            "latched": list(self.latch.address) if self.latch.address else None,
            "packets_received": self.rx.total_received,
            "octets_received": self.rx.octets,
            "packets_lost": self.rx.total_lost,
            "jitter_ms": round(self.rx.jitter / 8.0, 2),
            "packets_sent": self.tx.packets,
            "octets_sent": self.tx.octets,
            "remote_fraction_lost": remote.fraction_lost / 256 if remote else None,
            "remote_jitter_ms": round(remote.jitter / 8.0, 2) if remote else None,
            "bridged_to": self.peer.id if self.peer else None,
            **self.counters,
        }
