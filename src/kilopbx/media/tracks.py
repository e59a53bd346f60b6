"""A track: the audio one phone sends, decoded and buffered for a recorder or a mix.

Packets arrive when the network delivers them; recorders and mixes consume exactly
one 20 ms frame per tick of the worker's clock. A `Track` sits in between: it
decodes each payload (whatever codec the phone uses, following codec changes),
resamples it to the consumer's rate, and hands out one frame per tick. It waits
until two frames are buffered before it starts giving audio (a small jitter
buffer), pads an underrun with silence and starts over, and drops the oldest
audio when a phone sends faster than real time, so a track never drifts more than
`MAX_BUFFER_FRAMES` behind. Sans IO.
"""

from __future__ import annotations

from .codecs import Codec, Decoder, Resampler

PRIME_FRAMES = 2
MAX_BUFFER_FRAMES = 10  # 200 ms


class Track:
    __slots__ = ("_buffer", "_codec", "_decoder", "_primed", "_resampler", "frame_bytes", "rate")

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.frame_bytes = 2 * rate // 50
        self._buffer = bytearray()
        self._primed = False
        self._codec: Codec | None = None
        self._decoder: Decoder | None = None
        self._resampler: Resampler | None = None

    def feed(self, codec: Codec, payload: bytes) -> None:
        """One received audio payload."""
        if codec is not self._codec:
            self._codec = codec
            self._decoder = Decoder(codec)
            self._resampler = Resampler(codec.sample_rate, self.rate)
        assert self._decoder is not None and self._resampler is not None
        self._buffer += self._resampler.convert(self._decoder.decode(payload))
        excess = len(self._buffer) - MAX_BUFFER_FRAMES * self.frame_bytes
        if excess > 0:
            del self._buffer[:excess]

    def frame(self) -> bytes | None:
        """The next 20 ms, or None while there is nothing to give (silence)."""
        need = self.frame_bytes
        if not self._primed:
            if len(self._buffer) < PRIME_FRAMES * need:
                return None
            self._primed = True
        if len(self._buffer) >= need:
            out = bytes(self._buffer[:need])
            del self._buffer[:need]
            return out
        # an underrun: give what there is, then wait to be primed again
        self._primed = False
        if not self._buffer:
            return None
        out = bytes(self._buffer) + bytes(need - len(self._buffer))
        self._buffer.clear()
        return out
