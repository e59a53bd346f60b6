"""`play` and `stop` in a real worker: tones and files reach a phone, paced and in its codec."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kilopbx.media.codecs import Decoder, codec_named
from kilopbx.media.pool import MediaError, MediaPool
from kilopbx.media.rtp import RtpPacket
from tests.media_audio import dominant_frequency, tone

from .conftest import WAIT, Phone

MakePhone = Callable[[], Awaitable[Phone]]


def _pcm(codec: str, packets: list[RtpPacket]) -> bytes:
    decoder = Decoder(codec_named(codec))
    return b"".join(decoder.decode(bytes(p.payload)) for p in packets)


@pytest.mark.parametrize(("codec", "pt"), [("PCMU", 0), ("PCMA", 8), ("G722", 9)])
async def test_a_tone_reaches_the_phone_paced_in_its_codec(
    pool: MediaPool, make_phone: MakePhone, codec: str, pt: int
) -> None:
    phone = await make_phone()
    ref = await pool.create_endpoint([(pt, codec)], phone.address)
    playback = await pool.play(ref, "tone:700/200,0", loop=False)  # 200 ms of 700 Hz
    assert playback.seconds == pytest.approx(0.2)
    packets = await phone.receive_rtp(10)
    assert {p.payload_type for p in packets} == {pt}
    assert [(p.sequence - packets[0].sequence) % 65536 for p in packets] == list(range(10))
    assert [(p.timestamp - packets[0].timestamp) % 2**32 for p in packets] == [
        160 * i for i in range(10)
    ]
    rate = codec_named(codec).sample_rate
    pcm = _pcm(codec, packets)
    assert 650 < dominant_frequency(pcm[len(pcm) // 5 :], rate) < 750
    assert await playback.wait(WAIT) == "finished"


async def test_pacing_follows_the_clock_without_gaps(
    pool: MediaPool, make_phone: MakePhone
) -> None:
    phone = await make_phone()
    ref = await pool.create_endpoint([(0, "PCMU")], phone.address)
    playback = await pool.play(ref, "tone:ringback", loop=True)
    loop = asyncio.get_running_loop()
    first = await phone.receive_rtp(1)
    began = loop.time()
    packets = first + await phone.receive_rtp(50)  # one second of audio
    elapsed = loop.time() - began
    # 50 frames of 20 ms: about a second on the worker's clock (a loaded machine may burst)
    assert 0.6 < elapsed < 2.0
    assert [(p.sequence - first[0].sequence) % 65536 for p in packets] == list(range(51))
    assert await pool.stop(ref)
    assert await playback.wait(WAIT) == "stopped"
    assert not await pool.stop(ref)


async def test_a_wav_playlist_plays_in_order_then_a_new_play_replaces_it(
    pool: MediaPool, make_phone: MakePhone, tmp_path: Path
) -> None:
    for name, frequency, rate in (("low", 400, 44100), ("high", 1200, 8000)):
        with wave.open(str(tmp_path / f"{name}.wav"), "wb") as out:
            out.setnchannels(1), out.setsampwidth(2), out.setframerate(rate)
            out.writeframes(tone(frequency, rate, 200))
    phone = await make_phone()
    ref = await pool.create_endpoint([(0, "PCMU")], phone.address)
    first = await pool.play(ref, [f"file:{tmp_path}/low.wav", str(tmp_path / "high.wav")])
    packets = await phone.receive_rtp(20)
    low, high = _pcm("PCMU", packets[2:8]), _pcm("PCMU", packets[12:18])
    assert 350 < dominant_frequency(low, 8000) < 450
    assert 1100 < dominant_frequency(high, 8000) < 1300
    assert await first.wait(WAIT) == "finished"
    second = await pool.play(ref, "tone:busy", loop=True)
    third = await pool.play(ref, "tone:beep")
    assert await second.wait(WAIT) == "replaced"
    assert await third.wait(WAIT) == "finished"
    fourth = await pool.play(ref, "tone:ringback", loop=True)
    await pool.delete_endpoint(ref)
    assert await fourth.wait(WAIT) == "deleted"


async def test_bad_sources_are_refused_and_the_relay_resumes_after_a_prompt(
    pool: MediaPool, make_phone: MakePhone, tmp_path: Path
) -> None:
    a, b = await make_phone(), await make_phone()
    ea = await pool.create_endpoint([(0, "PCMU")], a.address)
    eb = await pool.create_endpoint([(0, "PCMU")], b.address, near=ea)
    await pool.bridge(ea, eb)
    with pytest.raises(MediaError) as missing:
        await pool.play(eb, f"file:{tmp_path}/none.wav")
    assert missing.value.code == "not_found"
    (tmp_path / "junk.wav").write_bytes(b"RIFFjunk")
    for bad in (f"file:{tmp_path}/junk.wav", "tone:nonsense", "ftp:x", "file:../etc/passwd"):
        with pytest.raises(MediaError) as refused:
            await pool.play(eb, bad)
        assert refused.value.code == "bad_request"
    with pytest.raises(MediaError) as unknown:
        await pool.play(type(eb)(eb.worker, "nope", 0), "tone:beep")
    assert unknown.value.code == "not_found"
    playback = await pool.play(eb, "silence:100")
    a.send_rtp(ea.port, 0, 1, 160, 0xAAAA, b"\x11" * 160)  # held back while b hears the prompt
    assert await playback.wait(WAIT) == "finished"
    await b.receive_rtp(5)
    for i in range(3):
        a.send_rtp(ea.port, 0, 2 + i, 320 + 160 * i, 0xAAAA, b"\x22" * 160)
    relayed = await b.receive_rtp(3)
    assert {bytes(p.payload) for p in relayed} == {b"\x22" * 160}
    assert relayed[0].ssrc == relayed[-1].ssrc and relayed[0].marker
