from __future__ import annotations

import pytest

from kilopbx.media.codecs import (
    G722,
    PCMA,
    PCMU,
    Codec,
    CodecError,
    Decoder,
    Encoder,
    Resampler,
    Transcoder,
    codec_named,
    decode,
    encode,
)
from tests.media_audio import dominant_frequency, level, tone


def _frames(pcm: bytes, rate: int) -> list[bytes]:
    size = rate // 50 * 2  # 20 ms of 16-bit samples
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


@pytest.mark.parametrize(
    ("source", "target"),
    [(PCMU, PCMA), (PCMA, PCMU), (G722, PCMU), (PCMU, G722), (G722, PCMA), (PCMA, G722)],
)
def test_transcoding_keeps_a_1khz_tone(source: Codec, target: Codec) -> None:
    encoder, transcoder, decoder = Encoder(source), Transcoder(source, target), Decoder(target)
    out = b""
    for frame in _frames(tone(1000, source.sample_rate, 400), source.sample_rate):
        converted = transcoder.convert(encoder.encode(frame))
        # 20 ms in, 20 ms out: G.722 and G.711 frames both carry 160 RTP clock ticks
        assert len(converted) == 160
        out += decoder.decode(converted)
    skip = target.sample_rate // 10 * 2  # let G.722 and the resampler settle for 100 ms
    assert dominant_frequency(out[skip:], target.sample_rate) == pytest.approx(1000, rel=0.03)
    assert level(out[skip:]) > 3000


def test_g711_round_trip_is_close() -> None:
    pcm = tone(440, 8000, 20)
    for codec in (PCMU, PCMA):
        back = decode(codec, encode(codec, pcm))
        assert len(back) == len(pcm)
        assert dominant_frequency(back, 8000) == pytest.approx(dominant_frequency(pcm, 8000))


def test_resampler_doubles_and_halves() -> None:
    up = Resampler(8000, 16000)
    assert [len(up.convert(b"\x00\x00" * 160)) for _ in range(3)] == [640, 640, 640]
    assert len(Resampler(16000, 8000).convert(b"\x00\x00" * 320)) == 320
    same = b"\x01\x02" * 10
    assert Resampler(8000, 8000).convert(same) is same


def test_codec_names_are_case_insensitive_and_checked() -> None:
    assert codec_named("pcmu") is PCMU
    assert codec_named("g722") is G722
    with pytest.raises(CodecError):
        codec_named("opus")
