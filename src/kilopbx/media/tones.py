"""Call-progress tones, generated: ringback, busy, congestion, call waiting, beeps.

The cadences are the North American ones (ANSI T1.401, the "precise tone plan"
phones in the US and Canada play), chosen because they are the ones most SIP
phones and users expect from an IP PBX out of the box:

| name | frequencies | cadence |
| --- | --- | --- |
| `ringback` | 440 + 480 Hz | 2 s on, 4 s off |
| `busy` | 480 + 620 Hz | 0.5 s on, 0.5 s off |
| `congestion` | 480 + 620 Hz | 0.25 s on, 0.25 s off (reorder) |
| `callwaiting` | 440 Hz | 0.3 s on, 9.7 s off |
| `beep` | 1000 Hz | 0.5 s (the voicemail beep) |
| `dial` | 350 + 440 Hz | continuous (1 s cycle) |

One *cycle* of a tone is rendered; the player repeats it when asked to loop. Beyond
the names, a source `tone:F1[+F2]/ON,OFF[,ON,OFF...]` (Hz, milliseconds) plays any
other tone, for tests and for administrators of other countries' cadences.
Everything here is pure computation: text in, 16-bit PCM out.
"""

from __future__ import annotations

import array
import math
import re
from dataclasses import dataclass

LEVEL = 0.25  # of full scale per frequency: about -15 dBm0 for a two-frequency tone
MAX_CYCLE_MS = 60_000
RAMP_MS = 4


class ToneError(ValueError):
    """A tone source that names no known tone and is no valid tone description."""


@dataclass(frozen=True)
class Tone:
    frequencies: tuple[float, ...]
    cadence: tuple[int, ...]  # milliseconds: on, off, on, off, ...

    @property
    def cycle_ms(self) -> int:
        return sum(self.cadence)


TONES: dict[str, Tone] = {
    "ringback": Tone((440.0, 480.0), (2000, 4000)),
    "busy": Tone((480.0, 620.0), (500, 500)),
    "congestion": Tone((480.0, 620.0), (250, 250)),
    "callwaiting": Tone((440.0,), (300, 9700)),
    "beep": Tone((1000.0,), (500,)),
    "dial": Tone((350.0, 440.0), (1000,)),
}

_CUSTOM = re.compile(r"^(\d{2,4}(?:\.\d+)?)(?:\+(\d{2,4}(?:\.\d+)?))?/(\d{1,5}(?:,\d{1,5}){0,15})$")


def parse_tone(spec: str) -> Tone:
    """`ringback`, or `440+480/2000,4000`: the part of a source after `tone:`."""
    named = TONES.get(spec.strip().lower())
    if named is not None:
        return named
    match = _CUSTOM.match(spec.strip())
    if match is None:
        raise ToneError(f"unknown tone {spec[:40]!r}: a name ({', '.join(TONES)}) or F1+F2/ON,OFF")
    frequencies = tuple(float(f) for f in match.group(1, 2) if f is not None)
    cadence = tuple(int(ms) for ms in match.group(3).split(","))
    if not all(20 <= f <= 3900 for f in frequencies):
        raise ToneError("tone frequencies must be between 20 and 3900 Hz")
    if sum(cadence) == 0 or sum(cadence) > MAX_CYCLE_MS or cadence[0] == 0:
        raise ToneError(f"a tone cycle must start with sound and last 1 to {MAX_CYCLE_MS} ms")
    return Tone(frequencies, cadence)


def render(tone: Tone, rate: int) -> bytes:
    """One cycle of `tone` as 16-bit native-endian mono PCM at `rate` Hz."""
    amplitude = 32767 * LEVEL
    steps = [2 * math.pi * f / rate for f in tone.frequencies]
    ramp = max(1, rate * RAMP_MS // 1000)
    samples = array.array("h")
    for index, milliseconds in enumerate(tone.cadence):
        count = rate * milliseconds // 1000
        if index % 2:  # off
            samples.frombytes(bytes(2 * count))
            continue
        for k in range(count):
            # a short fade at both ends of a burst: a hard edge is heard as a click
            gain = min(1.0, (k + 1) / ramp, (count - k) / ramp)
            samples.append(int(gain * amplitude * sum(math.sin(step * k) for step in steps)))
    return samples.tobytes()
