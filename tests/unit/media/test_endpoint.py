from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kilopbx.clock import FakeClock
from kilopbx.media.codecs import PCMA, PCMU, CodecError, decode, encode
from kilopbx.media.dtmf import build_event
from kilopbx.media.endpoint import Endpoint, PayloadMap
from kilopbx.media.rtcp import ReportBlock, build_report, parse_rtcp
from kilopbx.media.rtp import build_rtp, parse_rtp
from tests.media_audio import dominant_frequency, tone

PHONE_A = ("192.0.2.1", 4000)
PHONE_B = ("192.0.2.2", 5000)
ULAW = PayloadMap.from_pairs([(0, "PCMU"), (101, "telephone-event")])
ALAW = PayloadMap.from_pairs([(8, "PCMA"), (96, "telephone-event")])


def _pair(
    a_map: PayloadMap = ULAW, b_map: PayloadMap = ULAW, timeout: float = 0.0
) -> tuple[Endpoint, Endpoint]:
    rng = random.Random(3)
    a = Endpoint("a", 20000, a_map, PHONE_A, now=0.0, rng=rng, rtp_timeout=timeout)
    b = Endpoint("b", 20002, b_map, PHONE_B, now=0.0, rng=rng, rtp_timeout=timeout)
    a.peer, b.peer = b, a
    return a, b


def test_same_codec_is_a_header_rewrite() -> None:
    a, b = _pair()
    out = a.receive(build_rtp(0, False, 7, 1600, 0x1234, b"\x7f" * 160), PHONE_A, 1.0)
    assert out is not None
    data, destination = out
    assert destination == PHONE_B
    packet = parse_rtp(data)
    assert packet.ssrc == b.tx.ssrc != 0x1234
    assert packet.payload_type == 0 and packet.marker
    assert bytes(packet.payload) == b"\x7f" * 160


def test_payload_types_map_and_codecs_transcode() -> None:
    a, _b = _pair(ULAW, ALAW)
    pcm = tone(1000, 8000, 200)
    received = b""
    for i in range(10):
        frame = pcm[i * 320 : (i + 1) * 320]
        out = a.receive(build_rtp(0, False, i, i * 160, 1, encode(PCMU, frame)), PHONE_A, i * 0.02)
        assert out is not None
        packet = parse_rtp(out[0])
        assert packet.payload_type == 8
        received += bytes(packet.payload)
    assert dominant_frequency(decode(PCMA, received), 8000) == pytest.approx(1000, rel=0.03)
    event = a.receive(build_rtp(101, True, 10, 1600, 1, build_event(1, False, 400)), PHONE_A, 0.2)
    assert event is not None
    packet = parse_rtp(event[0])
    assert packet.payload_type == 96 and bytes(packet.payload) == build_event(1, False, 400)


def test_received_digit_is_reported_once() -> None:
    a, _ = _pair()
    for i, end in enumerate([False, True, True, True]):
        a.receive(build_rtp(101, i == 0, i, 800, 1, build_event(9, end, 800)), PHONE_A, 0.1 * i)
    assert a.digits == [("9", 100, "rfc4733")]


def _key_audio(codec_pt: int, ms: int) -> list[bytes]:
    """20 ms frames of key 5 (770 + 1336 Hz) then silence, in PCMU or PCMA."""
    import math
    import struct

    count = 8000 * ms // 1000
    samples = [
        int(
            6000 * math.sin(2 * math.pi * 770 * n / 8000)
            + 6000 * math.sin(2 * math.pi * 1336 * n / 8000)
        )
        if n < count * 2 // 3
        else 0
        for n in range(count)
    ]
    pcm = struct.pack(f"={count}h", *samples)
    codec = PCMU if codec_pt == 0 else PCMA
    return [encode(codec, pcm[i : i + 320]) for i in range(0, len(pcm), 320)]


def test_in_band_keys_are_found_on_a_leg_without_telephone_event() -> None:
    a, b = _pair(PayloadMap.from_pairs([(8, "PCMA")]), ULAW)
    for i, frame in enumerate(_key_audio(8, 300)):
        out = a.receive(build_rtp(8, False, i, i * 160, 1, frame), PHONE_A, i * 0.02)
        assert out is not None  # the audio itself still crosses
    assert a.digits == [("5", 200, "inband")]
    # a leg that negotiated telephone-event is not listened to in band
    for i, frame in enumerate(_key_audio(0, 300)):
        b.receive(build_rtp(0, False, i, i * 160, 2, frame), PHONE_B, i * 0.02)
    assert b.digits == []


def test_events_are_dropped_toward_a_leg_without_telephone_event() -> None:
    a, b = _pair(ULAW, PayloadMap.from_pairs([(0, "PCMU")]))
    assert a.receive(build_rtp(101, True, 1, 0, 1, build_event(1, False, 1)), PHONE_A, 0.0) is None
    assert b.counters["unroutable"] == 1


def test_hostile_and_unknown_packets_are_counted() -> None:
    a, _ = _pair()
    assert a.receive(b"\x00" * 5, PHONE_A, 0.0) is None
    assert a.receive(build_rtp(18, False, 1, 0, 1, b"x"), PHONE_A, 0.0) is None
    assert a.receive(build_rtp(0, False, 1, 0, 1, b"x"), ("203.0.113.9", 1), 0.0) is None
    assert (a.counters["malformed"], a.counters["unknown_payload"], a.counters["stray"]) == (
        1,
        1,
        1,
    )


def test_unbridged_or_unknown_destination_sends_nothing() -> None:
    rng = random.Random(1)
    lone = Endpoint("x", 1, ULAW, PHONE_A, now=0.0, rng=rng)
    assert lone.receive(build_rtp(0, False, 1, 0, 1, b"x"), PHONE_A, 0.0) is None
    a, b = _pair()
    b.latch.reset(None)  # no SDP address, nothing received yet: nowhere to send
    assert a.receive(build_rtp(0, False, 1, 0, 1, b"x"), PHONE_A, 0.0) is None


def test_inactivity_with_a_fake_clock() -> None:
    clock = FakeClock()
    a, _ = _pair(timeout=5.0)
    start = clock.monotonic()
    a.last_rx = start
    clock.advance(4.9)
    assert not a.check_timeout(clock.monotonic())
    a.receive(build_rtp(0, False, 1, 0, 1, b"x"), PHONE_A, clock.monotonic())
    clock.advance(4.9)
    assert not a.check_timeout(clock.monotonic())
    clock.advance(0.2)
    assert a.check_timeout(clock.monotonic())
    assert not a.check_timeout(clock.monotonic() + 100)  # reported once
    a.modify(None, None, 1.0)
    assert a.check_timeout(clock.monotonic())


def test_rtcp_reports_and_reads_the_phone_reports() -> None:
    a, b = _pair()
    for i in range(5):
        a.receive(build_rtp(0, False, i, i * 160, 1, b"x" * 160), PHONE_A, i * 0.02)
    report = b.rtcp_report(1.0, 1_700_000_000.0)
    assert report is not None and report[1] == (PHONE_B[0], PHONE_B[1] + 1)
    parsed = parse_rtcp(report[0])
    assert parsed.sender_ssrc == b.tx.ssrc and parsed.packets_sent == 5
    incoming = a.rtcp_report(1.0, 1_700_000_000.0)
    assert incoming is not None
    assert parse_rtcp(incoming[0]).blocks[0].highest_sequence == 4
    # the phone behind B reports on our stream; it arrives from its RTCP port
    block = ReportBlock(b.tx.ssrc, 64, 2, 10, 80, 0, 0)
    data = build_report(0x99, b"phone", 1_700_000_001.0, sender=(0, 1, 1), block=block)
    b.receive_rtcp(data, (PHONE_B[0], PHONE_B[1] + 1), 1.5)
    assert b.remote_report == block
    assert b.stats()["remote_fraction_lost"] == 0.25
    b.receive_rtcp(b"junk", (PHONE_B[0], 1), 1.6)
    b.receive_rtcp(data, ("203.0.113.1", 1), 1.6)
    assert b.counters["rtcp_malformed"] == 2 and b.counters["rtcp_received"] == 1
    again = b.rtcp_report(2.0, 1_700_000_002.0)
    assert again is not None and again[1] == (PHONE_B[0], PHONE_B[1] + 1)
    assert parse_rtcp(again[0]).blocks == []  # nothing received on B yet: no block


def test_payload_map_validation() -> None:
    with pytest.raises(CodecError):
        PayloadMap.from_pairs([(101, "telephone-event")])
    with pytest.raises(CodecError):
        PayloadMap.from_pairs([(0, "PCMU"), (0, "PCMA")])
    with pytest.raises(CodecError):
        PayloadMap.from_pairs([(73, "PCMU")])
    with pytest.raises(CodecError):
        PayloadMap.from_pairs([(97, "opus")])
    pm = PayloadMap.from_pairs([(9, "G722"), (0, "PCMU"), (8, "pcma")])
    assert pm.send_pt == 9 and pm.by_name == {"G722": 9, "PCMU": 0, "PCMA": 8}


@settings(deadline=None)  # CPU time on a shared machine is not the test's subject
@given(st.binary(max_size=1600), st.booleans())
def test_no_datagram_breaks_an_endpoint(data: bytes, transcode: bool) -> None:
    a, b = _pair(ULAW, ALAW if transcode else ULAW)
    out = a.receive(data, PHONE_A, 1.0)
    if out is not None:
        assert parse_rtp(out[0]).ssrc == b.tx.ssrc
    a.receive_rtcp(data, (PHONE_A[0], PHONE_A[1] + 1), 1.0)


def test_a_muted_leg_is_heard_by_nobody_but_still_hears_and_counts() -> None:
    a, b = _pair()
    a.muted = True
    packet = build_rtp(0, False, 7, 1600, 0x1234, b"\x7f" * 160)
    assert a.receive(packet, PHONE_A, 1.0) is None
    assert a.rx.octets == 160 and a.last_rx == 1.0  # still alive for the RTP timeout
    assert b.receive(packet, PHONE_B, 1.0) is not None  # the muted phone hears the other
    a.muted = False
    assert a.receive(build_rtp(0, False, 8, 1760, 0x1234, b"\x7f" * 160), PHONE_A, 1.02)
