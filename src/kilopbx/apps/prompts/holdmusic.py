"""Hold music, generated: a calm 16-second loop, not a beep.

Four bars in C major (C, A minor, F, G: I-vi-IV-V), each a soft arpeggio of its
chord over a held bass note. Notes are sine tones with a second harmonic, shaped by
a quick attack and a long decay, like a struck bell or an electric piano, so the
loop sounds like music through the narrow band of a telephone rather than like a
signalling tone. The last bar leads back into the first, so the loop has no seam.
Pure computation, done once when the file is missing (about a second of CPU).
"""

from __future__ import annotations

import array
import math

RATE = 16000
BAR_SECONDS = 4.0
BEAT = BAR_SECONDS / 8  # eight eighth notes per bar
PEAK = 12000.0  # about -9 dBFS: music under a conversation's level

# (bass, arpeggio) in MIDI note numbers
_BARS = [
    (48, [60, 64, 67, 72, 67, 64, 60, 64]),  # C
    (45, [57, 60, 64, 69, 64, 60, 57, 60]),  # A minor
    (41, [53, 57, 60, 65, 60, 57, 53, 57]),  # F
    (43, [55, 59, 62, 67, 62, 59, 55, 59]),  # G
]


def _frequency(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _add_note(out: list[float], start: float, length: float, note: int, gain: float) -> None:
    first = int(start * RATE)
    count = int(length * RATE)
    step = 2 * math.pi * _frequency(note) / RATE
    attack = 0.01 * RATE
    decay = -3.0 / count
    size = len(out)
    for k in range(count):
        envelope = min(1.0, k / attack) * math.exp(decay * k)
        phase = step * k
        # wrap around: the notes ringing past the end sound at the start of the loop
        out[(first + k) % size] += gain * envelope * (math.sin(phase) + 0.3 * math.sin(2 * phase))


def render() -> bytes:
    """The loop as 16-bit native-endian mono PCM at 16 kHz."""
    total = int(len(_BARS) * BAR_SECONDS * RATE)
    mix = [0.0] * total
    for index, (bass, arpeggio) in enumerate(_BARS):
        bar = index * BAR_SECONDS
        _add_note(mix, bar, BAR_SECONDS, bass + 12, 0.35)
        for beat, note in enumerate(arpeggio):
            _add_note(mix, bar + beat * BEAT, BEAT * 3, note, 0.55 if beat % 4 == 0 else 0.45)
    scale = PEAK / max(1.0, max(abs(v) for v in mix))
    return array.array("h", (int(v * scale) for v in mix)).tobytes()
