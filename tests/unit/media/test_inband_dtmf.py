"""In-band DTMF detection on generated tones, and no false keys from speech-like
signals, music or noise."""

from __future__ import annotations

import math
import random
import struct

import pytest

from kilopbx.media.inband_dtmf import HIGH, KEYS, LOW, InbandDetector, classify

RATE = 8000


def samples_to_pcm(samples: list[float]) -> bytes:
    clipped = (max(-32768, min(32767, int(s))) for s in samples)
    return struct.pack(f"={len(samples)}h", *clipped)


def dual_tone(low: float, high: float, ms: int, amp_low: float = 6000, amp_high: float = 7000,
              rate: int = RATE) -> list[float]:  # fmt: skip
    count = rate * ms // 1000
    return [
        amp_low * math.sin(2 * math.pi * low * n / rate)
        + amp_high * math.sin(2 * math.pi * high * n / rate + 0.7)
        for n in range(count)
    ]


def key_tone(key: str, ms: int, **kw: float) -> list[float]:
    row = next(i for i, keys in enumerate(KEYS) if key in keys)
    return dual_tone(LOW[row], HIGH[KEYS[row].index(key)], ms, **kw)  # type: ignore[arg-type]


def silence(ms: int, rate: int = RATE) -> list[float]:
    return [0.0] * (rate * ms // 1000)


def detect(samples: list[float], chunk: int = 160, rate: int = RATE) -> list[tuple[str, int]]:
    detector = InbandDetector(rate)
    pcm = samples_to_pcm(samples)
    found = []
    for start in range(0, len(pcm), chunk * 2):
        found += detector.feed(pcm[start : start + chunk * 2])
    return [(d.digit, d.duration_ms) for d in found]


@pytest.mark.parametrize("key", "0123456789*#ABCD")
def test_every_key_is_found_once(key: str) -> None:
    found = detect(silence(30) + key_tone(key, 100) + silence(80))
    assert [d for d, _ in found] == [key]
    assert 60 <= found[0][1] <= 120


def test_a_sequence_of_keys_with_short_gaps_and_odd_chunks() -> None:
    signal: list[float] = []
    for key in "1905#":
        signal += key_tone(key, 80) + silence(60)
    assert [d for d, _ in detect(signal, chunk=37)] == list("1905#")


def test_the_same_key_twice_is_two_presses() -> None:
    signal = key_tone("5", 80) + silence(60) + key_tone("5", 80) + silence(60)
    assert [d for d, _ in detect(signal)] == ["5", "5"]


def test_one_bad_block_inside_a_tone_is_forgiven() -> None:
    signal = key_tone("7", 100)[:800] + silence(20)[:160] + key_tone("7", 100) + silence(80)
    assert [d for d, _ in detect(signal)] == ["7"]


def test_wideband_audio_at_16_khz() -> None:
    signal = key_tone("9", 100, rate=16000) + silence(80, rate=16000)  # type: ignore[arg-type]
    assert [d for d, _ in detect(signal, chunk=320, rate=16000)] == ["9"]


def test_too_short_a_tone_is_no_key() -> None:
    assert detect(silence(10) + key_tone("3", 25) + silence(100)) == []


def test_too_quiet_is_no_key() -> None:
    assert detect(key_tone("3", 100, amp_low=200, amp_high=200) + silence(60)) == []


@pytest.mark.parametrize(("amp_low", "amp_high"), [(1000, 8000), (8000, 2000)])
def test_too_much_twist_is_no_key(amp_low: float, amp_high: float) -> None:
    assert detect(key_tone("2", 100, amp_low=amp_low, amp_high=amp_high) + silence(60)) == []


def test_a_single_tone_is_no_key() -> None:
    assert detect(dual_tone(697, 1209, 200, amp_high=0) + silence(60)) == []
    assert detect(dual_tone(1000, 1000, 500) + silence(60)) == []


def test_a_music_chord_is_no_key() -> None:
    count = RATE // 2
    chord = [
        3000 * sum(math.sin(2 * math.pi * f * n / RATE) for f in (440.0, 554.4, 659.3, 880.0))
        for n in range(count)
    ]
    assert detect(chord) == []


def test_white_noise_is_no_key() -> None:
    rng = random.Random(7)
    assert detect([rng.gauss(0, 6000) for _ in range(RATE * 2)]) == []


def speech_like(seconds: float, seed: int) -> list[float]:
    """A voiced signal: a gliding pitch with many harmonics shaped by moving formants,
    amplitude-modulated into syllables, plus breath noise."""
    rng = random.Random(seed)
    out: list[float] = []
    phase = 0.0
    for n in range(int(RATE * seconds)):
        t = n / RATE
        pitch = 120 + 40 * math.sin(2 * math.pi * 0.7 * t) + 10 * math.sin(2 * math.pi * 5 * t)
        phase += 2 * math.pi * pitch / RATE
        f1 = 500 + 300 * math.sin(2 * math.pi * 2.1 * t)
        f2 = 1500 + 600 * math.sin(2 * math.pi * 1.3 * t + 1)
        value = 0.0
        for h in range(1, 30):
            freq = h * pitch
            if freq > 3800:
                break
            gain = math.exp(-(((freq - f1) / 200) ** 2)) + 0.6 * math.exp(
                -(((freq - f2) / 250) ** 2)
            )
            value += gain * math.sin(h * phase)
        envelope = max(0.0, math.sin(2 * math.pi * 3 * t)) ** 0.5
        out.append(6000 * envelope * value + rng.gauss(0, 200))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_speech_like_signals_press_no_key(seed: int) -> None:
    assert detect(speech_like(3.0, seed)) == []


def test_a_key_over_quiet_speech_is_still_found() -> None:
    voice = speech_like(0.3, 4)
    tone = key_tone("6", 150) + silence(150)
    mixed = [0.1 * v + t for v, t in zip(voice, tone, strict=False)]
    assert [d for d, _ in detect(mixed)] == ["6"]


def test_classify_ignores_tiny_blocks() -> None:
    assert classify(b"\x00\x10" * 10) is None
