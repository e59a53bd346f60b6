"""Bridged endpoints in a real worker relay RTP between real UDP sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kilopbx.media.codecs import Codec, Decoder, Encoder, codec_named
from kilopbx.media.dtmf import build_event, parse_event
from kilopbx.media.pool import EndpointRef, MediaError, MediaPool
from kilopbx.media.rtcp import build_report, parse_rtcp
from kilopbx.media.rtp import RtpPacket, build_rtp
from tests.media_audio import dominant_frequency, tone

from .conftest import WAIT, Phone, PoolEvents

Codecs = list[tuple[int, str]]
ULAW = [(0, "PCMU"), (101, "telephone-event")]
ALAW = [(8, "PCMA"), (96, "telephone-event")]
WIDE = [(9, "G722"), (101, "telephone-event")]
MakePhone = Callable[[], Awaitable[Phone]]


async def _call(
    pool: MediaPool,
    a: Phone,
    b: Phone,
    a_codecs: Codecs = ULAW,
    b_codecs: Codecs = ULAW,
    **kw: Any,
) -> tuple[EndpointRef, EndpointRef]:
    ea = await pool.create_endpoint(a_codecs, a.address, **kw)
    eb = await pool.create_endpoint(b_codecs, b.address, near=ea, **kw)
    await pool.bridge(ea, eb)
    return ea, eb


async def test_header_rewrite_both_ways_and_continuity_across_a_reinvite(
    pool: MediaPool, make_phone: MakePhone
) -> None:
    a, b = await make_phone(), await make_phone()
    ea, eb = await _call(pool, a, b)
    for i in range(10):
        a.send_rtp(ea.port, 0, 1000 + i, 5000 + 160 * i, 0xAAAA, bytes([i]) * 160)
        b.send_rtp(eb.port, 0, 7 + i, 900 + 160 * i, 0xBBBB, bytes([100 + i]) * 160)
        await asyncio.sleep(0.02)
    at_b = await b.receive_rtp(10)
    at_a = await a.receive_rtp(10)
    assert [bytes(p.payload) for p in at_b] == [bytes([i]) * 160 for i in range(10)]
    assert [bytes(p.payload)[0] for p in at_a] == list(range(100, 110))
    for stream, original in ((at_b, 0xAAAA), (at_a, 0xBBBB)):
        assert {p.ssrc for p in stream} != {original} and len({p.ssrc for p in stream}) == 1
        assert [(p.sequence - stream[0].sequence) % 65536 for p in stream] == list(range(10))
        assert [(p.timestamp - stream[0].timestamp) % 2**32 for p in stream] == [
            160 * i for i in range(10)
        ]
        assert [p.marker for p in stream] == [True] + [False] * 9
    # re-INVITE: A's phone is replaced by another device with its own SSRC and numbering
    a2 = await make_phone()
    await pool.modify_endpoint(ea, remote={"host": a2.address[0], "port": a2.address[1]})
    await asyncio.sleep(0.05)
    for i in range(3):
        a2.send_rtp(ea.port, 0, 60000 + i, 77 + 160 * i, 0xCCCC, b"\x55" * 160)
        await asyncio.sleep(0.02)
    after = await b.receive_rtp(3)
    assert after[0].ssrc == at_b[0].ssrc
    assert [(p.sequence - at_b[-1].sequence) % 65536 for p in after] == [1, 2, 3]
    assert after[0].marker and not after[1].marker
    # the timestamp moved on by the real time that passed (>= 70 ms here), not by 0
    gap = (after[0].timestamp - at_b[-1].timestamp) % 2**32
    assert 8 * 60 < gap < 8 * 30_000  # a loaded machine may stall us for seconds


async def test_latches_to_the_real_source_port_behind_nat(
    pool: MediaPool, make_phone: MakePhone
) -> None:
    a, b = await make_phone(), await make_phone()
    # A's SDP names a port nobody uses (a private address behind NAT, in real life)
    ea = await pool.create_endpoint(ULAW, ("127.0.0.1", 9))
    eb = await pool.create_endpoint(ULAW, b.address, near=ea)
    await pool.bridge(ea, eb)
    for i in range(5):
        a.send_rtp(ea.port, 0, i, 160 * i, 0x1, b"\x01" * 160)
        await asyncio.sleep(0.02)
    relayed = await b.receive_rtp(3)  # the first two were candidates, not yet the stream
    assert len(relayed) == 3
    b.send_rtp(eb.port, 0, 1, 160, 0x2, b"\x02" * 160)
    back = await a.receive_rtp(1)
    assert bytes(back[0].payload) == b"\x02" * 160
    stats = await pool.stats(ea)
    assert stats["latched"] == list(a.address) and stats["stray"] == 2


def _tone_frames(codec: Codec, count: int) -> list[bytes]:
    encoder = Encoder(codec)
    pcm = tone(1000, codec.sample_rate, 20 * count)
    size = codec.sample_rate // 50 * 2
    return [encoder.encode(pcm[i * size : (i + 1) * size]) for i in range(count)]


@pytest.mark.parametrize(("source", "target"), [(ULAW, ALAW), (WIDE, ULAW), (ALAW, WIDE)])
async def test_transcodes_a_1khz_tone(
    pool: MediaPool,
    make_phone: MakePhone,
    source: Codecs,
    target: Codecs,
) -> None:
    a, b = await make_phone(), await make_phone()
    ea, _ = await _call(pool, a, b, source, target)
    source_codec, target_codec = codec_named(source[0][1]), codec_named(target[0][1])
    frames = _tone_frames(source_codec, 15)
    for i, frame in enumerate(frames):
        a.send_rtp(ea.port, source[0][0], i, 160 * i, 0x77, frame)
        await asyncio.sleep(0.005)
    received = await b.receive_rtp(15)
    assert {p.payload_type for p in received} == {target[0][0]}
    decoder = Decoder(target_codec)
    pcm = b"".join(decoder.decode(bytes(p.payload)) for p in received)
    settled = pcm[target_codec.sample_rate // 10 * 2 :]
    assert dominant_frequency(settled, target_codec.sample_rate) == pytest.approx(1000, rel=0.03)


async def test_telephone_events_relay_notify_and_send(
    pool: MediaPool, make_phone: MakePhone, events: PoolEvents
) -> None:
    a, b = await make_phone(), await make_phone()
    ea, eb = await _call(pool, a, b, ULAW, ALAW)
    for i, end in enumerate([False, False, True, True, True]):
        a.send_to(ea.port, build_rtp(101, i == 0, 50 + i, 8000, 0x9, build_event(5, end, 400 * i)))
    relayed = await b.receive_rtp(5)
    assert {p.payload_type for p in relayed} == {96}
    assert [parse_event(p.payload).end for p in relayed] == [False, False, True, True, True]
    assert len({p.timestamp for p in relayed}) == 1
    note = await asyncio.wait_for(events.notifications.get(), WAIT)
    assert (note.event, note.endpoint, note.data["digit"]) == ("dtmf", ea.id, "5")
    await pool.send_dtmf(eb, "7#", duration_ms=60)
    with pytest.raises(MediaError, match="already"):
        await pool.send_dtmf(eb, "1")
    sent: list[RtpPacket] = []
    while len([p for p in sent if parse_event(p.payload).end]) < 6:
        sent.extend(await b.receive_rtp(1))
    assert {p.payload_type for p in sent} == {96}
    digits = [parse_event(p.payload).digit for p in sent if parse_event(p.payload).end]
    assert digits == ["7", "7", "7", "#", "#", "#"]
    assert sum(p.marker for p in sent) == 2  # each digit starts with the marker
    seqs = [p.sequence for p in sent]
    assert [(s - seqs[0]) % 65536 for s in seqs] == list(range(len(seqs)))


async def test_rtcp_reports_arrive_and_are_read(pool: MediaPool, make_phone: MakePhone) -> None:
    a, b, a_rtcp, b_rtcp = [await make_phone() for _ in range(4)]
    ea = await pool.create_endpoint(ULAW, a.address, rtcp_interval=0.3)
    eb = await pool.create_endpoint(ULAW, b.address, near=ea, rtcp_interval=0.3)
    await pool.bridge(ea, eb)
    for i in range(5):
        a.send_rtp(ea.port, 0, i, 160 * i, 0x5, b"\x00" * 160)
    relayed = await b.receive_rtp(5)
    # each phone reports from its own RTCP socket; the worker answers where they came from
    b_rtcp.send_to(eb.port + 1, build_report(0x42, b"phone-b", 1.7e9, sender=None, block=None))
    a_rtcp.send_to(ea.port + 1, build_report(0x5, b"phone-a", 1.7e9, sender=None, block=None))
    about_a = parse_rtcp(await a_rtcp.receive())
    assert about_a.blocks and about_a.blocks[0].ssrc == 0x5
    assert about_a.blocks[0].highest_sequence == 4
    to_b = parse_rtcp(await b_rtcp.receive())
    assert to_b.sender_ssrc == relayed[0].ssrc  # the SSRC of the stream B hears
    stats = await pool.stats(eb)
    assert stats["rtcp_received"] == 1 and stats["rtcp_sent"] >= 1 and stats["packets_sent"] == 5


async def test_rtp_timeout_is_notified(
    pool: MediaPool, make_phone: MakePhone, events: PoolEvents
) -> None:
    a = await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address, rtp_timeout=0.5)
    note = await asyncio.wait_for(events.notifications.get(), WAIT)
    assert (note.event, note.endpoint) == ("rtp_timeout", ea.id)
    stats = await pool.delete_endpoint(ea)
    assert stats["packets_received"] == 0


async def test_stats_notifications_on_request(
    pool: MediaPool, make_phone: MakePhone, events: PoolEvents
) -> None:
    a = await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address, stats_interval=0.3)
    note = await asyncio.wait_for(events.notifications.get(), WAIT)
    assert (note.event, note.endpoint, note.data["port"]) == ("endpoint_stats", ea.id, ea.port)
