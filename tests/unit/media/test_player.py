"""Tones, WAV reading and writing, sources and the player's pacing, without sockets."""

from __future__ import annotations

import struct
import wave
from pathlib import Path

import pytest

from kilopbx.media.codecs import G722, PCMA, PCMU, Decoder
from kilopbx.media.player import FRAME_SECONDS, MAX_BURST, Player
from kilopbx.media.sources import SourceCache, SourceError
from kilopbx.media.tones import TONES, ToneError, parse_tone, render
from kilopbx.media.wav import WavError, WavWriter, decode_wav, encode_wav, repair
from tests.media_audio import dominant_frequency, float_wav, level, tone


def test_named_tones_have_their_cadence_and_frequencies() -> None:
    ringback = render(TONES["ringback"], 8000)
    assert len(ringback) == 2 * 8000 * 6  # 2 s on, 4 s off
    on, off = ringback[: 2 * 16000], ringback[2 * 16000 :]
    assert level(off) == 0 and level(on) > 3000
    busy = render(parse_tone("BUSY"), 16000)
    assert len(busy) == 2 * 16000
    beep = render(TONES["beep"], 8000)
    assert 950 < dominant_frequency(beep, 8000) < 1050


def test_custom_tone_and_refusals() -> None:
    pcm = render(parse_tone("700/100,100"), 8000)
    assert len(pcm) == 2 * 1600
    assert 650 < dominant_frequency(pcm[:1600], 8000) < 750
    for bad in ("nope", "5/100", "700/0", "700+9000/100", "700/0,100", "700/99999", "x" * 500):
        with pytest.raises(ToneError):
            parse_tone(bad)


def _wav(path: Path, rate: int, width: int, channels: int, frames: bytes) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


@pytest.mark.parametrize(
    ("rate", "width", "channels"), [(8000, 2, 1), (44100, 2, 2), (22050, 1, 1), (48000, 3, 2)]
)
def test_any_pcm_wav_becomes_mono16_at_the_rate_asked(
    tmp_path: Path, rate: int, width: int, channels: int
) -> None:
    pcm = tone(500, rate, 500)
    samples = struct.unpack(f"={len(pcm) // 2}h", pcm)
    if width == 1:
        raw = bytes((s >> 8) + 128 for s in samples)
    elif width == 3:
        raw = b"".join(struct.pack("<i", s << 8)[:3] for s in samples)
    else:
        raw = pcm
    if channels == 2:
        w = width
        raw = b"".join(raw[i : i + w] * 2 for i in range(0, len(raw), w))
    path = _wav(tmp_path / "in.wav", rate, width, channels, raw)
    for target in (8000, 16000):
        out = decode_wav(path.read_bytes(), target)
        assert abs(len(out) - 2 * target // 2) <= 4
        assert 470 < dominant_frequency(out, target) < 530


@pytest.mark.parametrize(("rate", "channels", "code"), [(44100, 2, "f"), (48000, 1, "d")])
def test_floating_point_wav_becomes_mono16(rate: int, channels: int, code: str) -> None:
    pcm = tone(500, rate, 500)
    values = [s / 32768.0 for s in struct.unpack(f"={len(pcm) // 2}h", pcm)]
    samples = [v for v in values for _ in range(channels)]
    for target in (8000, 16000):
        out = decode_wav(float_wav(rate, channels, samples, code), target)
        assert abs(len(out) - 2 * target // 2) <= 4
        assert 470 < dominant_frequency(out, target) < 530
        assert abs(level(out) - level(tone(500, target, 500))) < 0.05 * level(out)


def test_floating_point_samples_out_of_range_are_clipped_and_nan_is_silence() -> None:
    out = decode_wav(float_wav(8000, 1, [2.0, -7.5, float("nan"), 0.5, float("inf")]), 8000)
    assert struct.unpack("=5h", out) == (32767, -32768, 0, 16384, 32767)


def test_a_wav_written_to_a_pipe_and_large_metadata_chunks_are_read() -> None:
    good = encode_wav(tone(400, 8000, 300), 8000)
    audio = good[44:]
    for unknown in (0, 0xFFFFFFFF):  # the writer could not seek back to fix the sizes
        piped = good[:4] + struct.pack("<I", unknown) + good[8:40] + struct.pack("<I", unknown)
        assert decode_wav(piped + audio, 8000) == audio
    # a 100 kB LIST chunk (tags, cover art) between the format and the data
    tagged = good[:36] + b"LIST" + struct.pack("<I", 100_001) + bytes(100_001) + b"\0"
    assert decode_wav(tagged + good[36:], 8000) == audio


def test_bad_wav_files_are_refused_with_a_reason() -> None:
    good = encode_wav(tone(400, 8000, 100), 8000)
    float_fmt = good[:20] + struct.pack("<H", 3) + good[22:]
    adpcm = good[:20] + struct.pack("<H", 2) + good[22:]
    cases = {
        b"": "not a WAV",
        b"RIFF\x00\x00\x00\x00WAVEjunk": "no audio",
        float_fmt: "16-bit floating-point",
        adpcm: "not supported",
        good[:12] + good[36:]: "before its format",
        good[:22] + struct.pack("<H", 0) + good[24:]: "channels",
        good[:24] + struct.pack("<I", 100) + good[28:]: "rate",
    }
    for data, reason in cases.items():
        with pytest.raises(WavError, match=reason):
            decode_wav(data, 8000)


def test_writer_keeps_a_valid_file_and_repair_fixes_a_dead_writers_sizes(tmp_path: Path) -> None:
    path = tmp_path / "rec.wav"
    writer = WavWriter(path, 8000)
    writer.write(tone(300, 8000, 200))
    assert writer.flush() == 3200
    with wave.open(str(path)) as done:  # valid while still being written
        assert done.getnframes() == 1600
    writer.write(tone(300, 8000, 100))
    writer.close()
    with wave.open(str(path)) as done:
        assert done.getnframes() == 2400
    # a writer killed after writing data but before the sizes: more data than the header says
    with open(path, "ab") as file:
        file.write(b"\x01\x00" * 800 + b"\x07")  # and half a sample
    assert repair(path)
    with wave.open(str(path)) as done:
        assert done.getnframes() == 3200
    assert not repair(path)
    stub = tmp_path / "stub.wav"
    stub.write_bytes(b"RIFF")
    assert repair(stub)
    with wave.open(str(stub)) as empty:
        assert empty.getnframes() == 0
    other = tmp_path / "other.wav"
    other.write_bytes(b"x" * 100)
    with pytest.raises(WavError):
        repair(other)


def test_sources_load_files_tones_silence_and_refuse_the_rest(tmp_path: Path) -> None:
    cache = SourceCache()
    (tmp_path / "8000").mkdir()
    _wav(tmp_path / "8000" / "hello.wav", 8000, 2, 1, tone(600, 8000, 100))
    assert len(cache.load(f"file:{tmp_path}/{{rate}}/hello.wav", 8000)) == 1600
    assert len(cache.load(f"{tmp_path}/8000/hello.wav", 16000)) in range(3196, 3204)  # resampled
    (tmp_path / "8000" / "16k").mkdir()
    _wav(tmp_path / "8000" / "16k" / "hello.wav", 16000, 2, 1, tone(600, 16000, 50))
    assert len(cache.load(f"{tmp_path}/8000/hello.wav", 16000)) == 1600  # the 16 kHz one
    assert cache.load("silence:20", 16000) == bytes(640)
    assert len(cache.load("tone:busy", 8000)) == 16000
    with pytest.raises(SourceError) as missing:
        cache.load(f"file:{tmp_path}/nothing.wav", 8000)
    assert missing.value.missing
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    for bad in (
        f"file:{tmp_path}/bad.wav", "file:relative.wav", f"file:{tmp_path}/../x.wav",
        "silence:0", "silence:x", "tone:nope", "http://example.com/x.wav",
    ):  # fmt: skip
        with pytest.raises(SourceError) as refused:
            cache.load(bad, 8000)
        assert not refused.value.missing


def test_cache_notices_a_replaced_file_and_stays_bounded(tmp_path: Path) -> None:
    cache = SourceCache(max_bytes=5000)
    path = _wav(tmp_path / "a.wav", 8000, 2, 1, tone(600, 8000, 200))
    assert len(cache.load(str(path), 8000)) == 3200
    _wav(path, 8000, 2, 1, tone(600, 8000, 100))
    assert len(cache.load(str(path), 8000)) == 1600
    other = _wav(tmp_path / "b.wav", 8000, 2, 1, tone(600, 8000, 250))
    cache.load(str(other), 8000)
    assert cache._bytes <= 5000


@pytest.mark.parametrize("codec", [PCMU, PCMA, G722])
def test_player_paces_20ms_frames_in_the_codec_and_ends(codec: object) -> None:
    assert codec in (PCMU, PCMA, G722)
    rate = codec.sample_rate  # type: ignore[attr-defined]
    player = Player(7, [tone(1000, rate, 90)], rate, loop=False, start=10.0)
    frames = player.due(10.0, codec)  # type: ignore[arg-type]
    assert [(seq, ts) for seq, ts, _ in frames] == [(0, 0)]
    assert player.due(10.019, codec) == []  # type: ignore[arg-type]
    frames += player.due(10.1, codec)  # type: ignore[arg-type]
    assert [ts for _, ts, _ in frames] == [0, 160, 320, 480, 640]  # 90 ms: 5 frames, padded
    assert player.finished and player.due(11.0, codec) == []  # type: ignore[arg-type]
    decoder = Decoder(codec)  # type: ignore[arg-type]
    pcm = b"".join(decoder.decode(payload) for _, _, payload in frames[:4])
    assert len(frames[0][2]) == 160
    assert 900 < dominant_frequency(pcm[len(pcm) // 4 :], rate) < 1100


def test_player_loops_a_playlist_and_catches_up_or_skips_after_a_stall() -> None:
    items = [bytes(320), b"\x01\x00" * 80]  # 20 ms, then 10 ms
    player = Player(1, items, 8000, loop=True, start=0.0)
    got = player.due(0.0, PCMU) + player.due(0.02, PCMU) + player.due(0.04, PCMU)
    assert len(got) == 3 and not player.finished
    late = player.due(0.04 + 3 * FRAME_SECONDS, PCMU)  # three frames owed: sent at once
    assert len(late) == 3 and player.frames_skipped == 0
    stalled = player.due(0.1 + 2.0, PCMU)
    assert len(stalled) == MAX_BURST and player.frames_skipped > 90
    seqs = [seq for seq, _, _ in stalled]
    assert seqs == list(range(seqs[0], seqs[0] + MAX_BURST))
    assert player.due(player.next_due, PCMU)  # in step again


def test_an_empty_playlist_is_finished_at_once() -> None:
    player = Player(1, [b""], 8000, loop=True, start=0.0)
    assert player.finished and player.due(1.0, PCMU) == []


def test_play_commands_are_checked_at_the_edge() -> None:
    from kilopbx.media.control import Answer, Play, parse_command

    ok = parse_command(b'{"id":1,"op":"play","endpoint":"e","source":["tone:beep","silence:5"]}')
    assert isinstance(ok, Play) and ok.source == ["tone:beep", "silence:5"] and not ok.loop
    for bad in (
        b'{"id":2,"op":"play","endpoint":"e","source":""}',
        b'{"id":3,"op":"play","endpoint":"e","source":[]}',
        b'{"id":4,"op":"play","endpoint":"e","source":["x"],"playback":-1}',
        b'{"id":5,"op":"play","endpoint":"e","source":"' + b"x" * 2000 + b'"}',
        b'{"id":6,"op":"play","endpoint":"e","source":[' + b'"a",' * 64 + b'"a"]}',
        b'{"id":7,"op":"play","endpoint":"e","source":"tone:beep","volume":3}',
    ):
        answer = parse_command(bad)
        assert isinstance(answer, Answer) and answer.error == "bad_request" and answer.id


def test_player_gain_scales_or_silences() -> None:
    pcm = tone(1000, 8000, 40, amplitude=4000)
    loud = Player(1, [pcm], 8000, loop=False, start=0.0, gain_db=6.0)
    quiet = Player(1, [pcm], 8000, loop=False, start=0.0, gain_db=-60.0)
    plain = Player(1, [pcm], 8000, loop=False, start=0.0)
    levels = [level(Decoder(PCMU).decode(p.due(0.02, PCMU)[1][2])) for p in (loud, plain, quiet)]
    assert levels[0] == pytest.approx(2 * levels[1], rel=0.1) and levels[2] < 10
