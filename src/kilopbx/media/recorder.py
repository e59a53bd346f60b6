"""Recording, sans IO: the tracks of one or more legs mixed into one mono WAV stream.

A call recording has two tracks (what each phone sends), a voicemail one. Each tick
of the worker's 20 ms clock takes one frame from every track, adds them (saturating,
`audioop.add`), and writes the sum to the sink. The sink is a `wav.WavWriter` in the
worker and anything with `write`/`flush` in the tests; it is flushed every
`FLUSH_FRAMES` frames, so a killed worker leaves a valid WAV at most one second
short. A recording can end by itself: after `max_seconds`, or after `silence_seconds`
of audio below `SILENCE_RMS` (a voicemail caller who stopped talking).
"""

from __future__ import annotations

import warnings
from typing import Protocol

from .tracks import Track

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FLUSH_FRAMES = 50  # one second
SILENCE_RMS = 250  # about -42 dBFS: line noise, not speech


class Sink(Protocol):
    def write(self, pcm: bytes) -> None: ...

    def flush(self) -> int: ...

    def close(self) -> None: ...


class Recording:
    def __init__(
        self,
        recording: int,
        sink: Sink,
        endpoints: list[str],
        rate: int = 8000,
        *,
        max_seconds: float = 0.0,
        silence_seconds: float = 0.0,
    ) -> None:
        self.recording = recording
        self.sink = sink
        self.rate = rate
        self.tracks = {endpoint: Track(rate) for endpoint in endpoints}
        self.frames = 0
        self.bytes_written = 0
        self.max_frames = round(max_seconds * 50)
        self.silence_frames = round(silence_seconds * 50)
        self._quiet = 0
        self._silence = bytes(2 * rate // 50)
        self.ended: str | None = None  # why it ended by itself: max_length or silence

    @property
    def seconds(self) -> float:
        return self.frames / 50

    def join(self, endpoint: str) -> Track:
        """One more track (an endpoint joining), silent until its first frames."""
        return self.tracks.setdefault(endpoint, Track(self.rate))

    def tick(self) -> None:
        """Record one frame; sets `ended` when the recording reaches one of its limits."""
        if self.ended is not None:
            return
        mixed: bytes | None = None
        for track in self.tracks.values():
            frame = track.frame()
            if frame is not None:
                mixed = frame if mixed is None else audioop.add(mixed, frame, 2)
        frame = self._silence if mixed is None else mixed
        self.sink.write(frame)
        self.frames += 1
        if self.frames % FLUSH_FRAMES == 0:
            self.bytes_written += self.sink.flush()
        if self.silence_frames:
            quiet = mixed is None or audioop.rms(frame, 2) < SILENCE_RMS
            self._quiet = self._quiet + 1 if quiet else 0
            if self._quiet >= self.silence_frames:
                self.ended = "silence"
        if self.max_frames and self.frames >= self.max_frames:
            self.ended = "max_length"

    def close(self) -> None:
        self.bytes_written += self.sink.flush()
        self.sink.close()
