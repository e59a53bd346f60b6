"""Audio helpers for media tests: make a tone (or a float WAV of it), and measure the
frequency that came back."""

from __future__ import annotations

import itertools
import math
import struct


def tone(frequency: float, rate: int, milliseconds: int, amplitude: int = 8000) -> bytes:
    """16-bit native-endian linear PCM of a sine tone."""
    count = rate * milliseconds // 1000
    samples = (int(amplitude * math.sin(2 * math.pi * frequency * n / rate)) for n in range(count))
    return struct.pack(f"={count}h", *samples)


def float_wav(rate: int, channels: int, samples: list[float], code: str = "f") -> bytes:
    """A WAVE_FORMAT_IEEE_FLOAT file, as audio editors export by default."""
    width = 4 if code == "f" else 8
    data = struct.pack(f"<{len(samples)}{code}", *samples)
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * channels * width, channels * width,
                      8 * width)  # fmt: skip
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data"
    body += struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def dominant_frequency(pcm: bytes, rate: int) -> float:
    """Frequency from zero crossings: good enough to tell 1 kHz from 500 Hz or 2 kHz."""
    samples = struct.unpack(f"={len(pcm) // 2}h", pcm)
    crossings = sum(1 for a, b in itertools.pairwise(samples) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate)


def level(pcm: bytes) -> float:
    """RMS level of 16-bit linear PCM."""
    samples = struct.unpack(f"={len(pcm) // 2}h", pcm)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


def goertzel(pcm: bytes, rate: int, frequency: float) -> float:
    """Power of one frequency in 16-bit linear PCM (the Goertzel algorithm): tells two
    tones mixed together apart, where zero crossings only see the louder one."""
    samples = struct.unpack(f"={len(pcm) // 2}h", pcm)
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for sample in samples:
        s1, s2 = sample + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2
