"""In-band DTMF: find the key tones (ITU-T Q.23) in decoded audio, sans IO.

For legs that did not negotiate telephone-event, a key press arrives as two sine
tones inside the audio: one of the low group (697, 770, 852, 941 Hz) and one of the
high group (1209, 1336, 1477, 1633 Hz). `InbandDetector` takes the leg's decoded
16-bit linear PCM, cuts it into 20 ms blocks and measures in each the power at the
eight frequencies (the Goertzel measure: the power of one DFT bin at exactly that
frequency). A block counts as a key only when every check passes, so that speech and
music do not press keys:

- energy: both tones are loud enough (`MIN_AMPLITUDE`, about -38 dBFS);
- twist: the high tone is at most 4 dB above the low one and at most 8 dB below it
  (Q.24's normal and reverse twist);
- relative peak: in each group the tone found is at least 6 dB above the others;
- purity: the two tones carry most of the block's energy (`MIN_PURITY`): speech,
  music and noise spread theirs over many frequencies;
- duration: a key is on after two consecutive blocks agree (40 ms of tone), and
  ends after two blocks without it (a single bad block inside a tone is forgiven).

Each key is reported once, when it ends, with its duration, like an RFC 4733 end
packet. The bin powers are computed as dot products with precomputed sine and cosine
references through `audioop.findfactor`, which runs in C: a block costs a few
microseconds, so every leg without telephone-event can afford a detector.
"""

from __future__ import annotations

import array
import math
import warnings
from dataclasses import dataclass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

LOW = (697.0, 770.0, 852.0, 941.0)
HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")  # [low index][high index]
BLOCK_SECONDS = 0.02
MIN_AMPLITUDE = 400.0  # of each tone, in 16-bit sample units (full scale 32767)
MAX_NORMAL_TWIST_DB = 4.0  # high tone above the low one
MAX_REVERSE_TWIST_DB = 8.0  # high tone below the low one
MIN_PEAK_RATIO = 2.0  # amplitude over any other tone of its group: 6 dB
MIN_PURITY = 0.6  # share of the block's energy in the two tones
ON_BLOCKS = 2  # consecutive blocks that make a key (40 ms)
OFF_BLOCKS = 2  # blocks without it that end the key
_REFERENCE_AMPLITUDE = 16384.0
# the low tone's least share of the block's power that can still pass the purity check
# with the loudest high tone the normal twist allows
_MIN_LOW_SHARE = 2 * MIN_PURITY / (1 + 10 ** (MAX_NORMAL_TWIST_DB / 10))


@dataclass(frozen=True)
class InbandDigit:
    digit: str
    duration_ms: int


class _Reference:
    """The cosine and sine of one frequency over one block, for findfactor."""

    __slots__ = ("cos", "cos_energy", "sin", "sin_energy")

    def __init__(self, frequency: float, rate: int, size: int) -> None:
        step = 2 * math.pi * frequency / rate
        cos = [round(_REFERENCE_AMPLITUDE * math.cos(step * n)) for n in range(size)]
        sin = [round(_REFERENCE_AMPLITUDE * math.sin(step * n)) for n in range(size)]
        self.cos = array.array("h", cos).tobytes()
        self.sin = array.array("h", sin).tobytes()
        self.cos_energy = float(sum(v * v for v in cos))
        self.sin_energy = float(sum(v * v for v in sin))

    def amplitude(self, block: bytes, size: int) -> float:
        """The amplitude of this frequency's sine in ``block`` (2|X(f)|/N)."""
        re = audioop.findfactor(block, self.cos) * self.cos_energy
        im = audioop.findfactor(block, self.sin) * self.sin_energy
        return 2.0 * math.hypot(re, im) / (size * _REFERENCE_AMPLITUDE)


_REFERENCES: dict[int, tuple[list[_Reference], list[_Reference]]] = {}


def _references(rate: int, size: int) -> tuple[list[_Reference], list[_Reference]]:
    found = _REFERENCES.get(rate)
    if found is None:
        found = (
            [_Reference(f, rate, size) for f in LOW],
            [_Reference(f, rate, size) for f in HIGH],
        )
        _REFERENCES[rate] = found
    return found


def classify(block: bytes, rate: int = 8000) -> str | None:
    """The key whose tones fill this block of 16-bit PCM, or None (every check above
    except duration)."""
    size = len(block) // 2
    if size < 64:
        return None
    power = audioop.rms(block, 2) ** 2
    if power < MIN_AMPLITUDE**2 / 2:
        return None  # silence and quiet noise cost one rms
    low_refs, high_refs = _references(rate, size)
    if len(low_refs[0].cos) != len(block):
        low_refs = [_Reference(f, rate, size) for f in LOW]
        high_refs = [_Reference(f, rate, size) for f in HIGH]
    # the low group first: most speech and noise fail its checks, and the high
    # group is then never computed
    low = [ref.amplitude(block, size) for ref in low_refs]
    row = max(range(4), key=low.__getitem__)
    a_low = low[row]
    if a_low < MIN_AMPLITUDE or a_low * a_low < _MIN_LOW_SHARE * power:
        return None  # even the loudest high tone the twist allows would not be enough
    if any(i != row and low[i] * MIN_PEAK_RATIO > a_low for i in range(4)):
        return None
    high = [ref.amplitude(block, size) for ref in high_refs]
    col = max(range(4), key=high.__getitem__)
    a_high = high[col]
    if a_high < MIN_AMPLITUDE:
        return None
    twist_db = 20 * math.log10(a_high / a_low)
    if twist_db > MAX_NORMAL_TWIST_DB or twist_db < -MAX_REVERSE_TWIST_DB:
        return None
    if any(i != col and high[i] * MIN_PEAK_RATIO > a_high for i in range(4)):
        return None
    tones = (a_low * a_low + a_high * a_high) / 2
    if tones < MIN_PURITY * power:
        return None
    return KEYS[row][col]


class InbandDetector:
    """Linear PCM in (any chunk size), finished key presses out."""

    __slots__ = ("_block_bytes", "_buffer", "_candidate", "_count", "_current", "_gap",
                 "_length", "rate")  # fmt: skip

    def __init__(self, rate: int = 8000) -> None:
        self.rate = rate
        self._block_bytes = round(rate * BLOCK_SECONDS) * 2
        self._buffer = b""
        self._candidate: str | None = None  # what the last blocks showed
        self._count = 0  # how many blocks in a row showed it
        self._current: str | None = None  # the key that is on
        self._length = 0  # blocks the current key has lasted
        self._gap = 0  # blocks since the current key was last seen

    def feed(self, pcm: bytes) -> list[InbandDigit]:
        found: list[InbandDigit] = []
        data = self._buffer + pcm
        step = self._block_bytes
        end = len(data) - len(data) % step
        for start in range(0, end, step):
            digit = self._block(classify(data[start : start + step], self.rate))
            if digit is not None:
                found.append(digit)
        self._buffer = data[end:]
        return found

    def _block(self, key: str | None) -> InbandDigit | None:
        if key is not None and key == self._candidate:
            self._count += 1
        else:
            self._candidate, self._count = key, 1 if key is not None else 0
        if self._current is not None:
            if key == self._current:
                self._length += 1 + self._gap
                self._gap = 0
                return None
            self._gap += 1
            if self._gap < OFF_BLOCKS and key is None:
                return None
            ended = InbandDigit(self._current, round(self._length * BLOCK_SECONDS * 1000))
            self._current, self._gap = None, 0
            if key is not None and self._count >= ON_BLOCKS:
                self._current, self._length = key, self._count
            return ended
        if key is not None and self._count >= ON_BLOCKS:
            self._current, self._length, self._gap = key, self._count, 0
        return None
