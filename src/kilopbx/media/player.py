"""Playing audio to one endpoint, sans IO: 20 ms frames on the worker's clock.

A `Player` holds the PCM of a playlist (already at one rate, see `sources.py`), and
each time the worker's media clock ticks it returns the frames that are due, encoded
in the codec the endpoint sends (PCMU, PCMA or G.722; it follows a re-INVITE that
changes the codec). Frame *n* is due at `start + n * 20 ms`. A tick that comes late
sends the frames it owes at once, up to `MAX_BURST`, with their proper timestamps, so
the phone's jitter buffer hides the delay; a stall longer than that skips the frames
rather than bursting them, so the stream stays in step with real time. Sequence
numbers and timestamps are the player's own; the endpoint's rewriter maps them into
the leg's continuous outgoing stream.
"""

from __future__ import annotations

import warnings

from .codecs import RTP_CLOCK, Codec, Encoder, Resampler

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

FRAME_SECONDS = 0.02
FRAME_TS = RTP_CLOCK // 50  # 160: G.722 keeps an 8000 Hz RTP clock too
MAX_BURST = 5  # frames (100 ms) sent in one go to catch up


class Player:
    def __init__(
        self,
        playback: int,
        items: list[bytes],
        rate: int,
        *,
        loop: bool,
        start: float,
        gain_db: float = 0.0,
    ) -> None:
        self.playback = playback
        self.gain = 0.0 if gain_db <= -60 else 10 ** (gain_db / 20)
        self.rate = rate
        self.loop = loop and any(items)
        self._items = [item for item in items if item]
        self._item = 0
        self._offset = 0
        self._frame_bytes = 2 * rate // 50
        self.next_due = start
        self.seq = 0
        self.timestamp = 0
        self.finished = not self._items
        self.frames_sent = 0
        self.frames_skipped = 0
        self._codec: Codec | None = None
        self._encoder: Encoder | None = None
        self._resampler: Resampler | None = None

    def due(self, now: float, codec: Codec) -> list[tuple[int, int, bytes]]:
        """(sequence, timestamp, payload) of every frame due by `now`."""
        if codec is not self._codec:
            self._codec = codec
            self._encoder = Encoder(codec)
            self._resampler = Resampler(self.rate, codec.sample_rate)
        assert self._encoder is not None and self._resampler is not None
        late = int((now - self.next_due) / FRAME_SECONDS)
        if late >= MAX_BURST:  # a stall: skip what could not be sent in time
            skipped = late - MAX_BURST + 1
            for _ in range(skipped):
                if self._read() is None:
                    break
            self.frames_skipped += skipped
            self.next_due += skipped * FRAME_SECONDS
            self.seq += skipped
            self.timestamp += skipped * FRAME_TS
        out: list[tuple[int, int, bytes]] = []
        while not self.finished and self.next_due <= now and len(out) < MAX_BURST:
            pcm = self._read()
            if pcm is None:
                break
            if self.gain != 1.0:
                pcm = audioop.mul(pcm, 2, self.gain)  # saturating
            payload = self._encoder.encode(self._resampler.convert(pcm))
            out.append((self.seq & 0xFFFF, self.timestamp & 0xFFFFFFFF, payload))
            self.seq += 1
            self.timestamp += FRAME_TS
            self.next_due += FRAME_SECONDS
            self.frames_sent += 1
        return out

    def _read(self) -> bytes | None:
        """The next frame of PCM, padded with silence at the very end; None when done."""
        if self.finished:
            return None
        need = self._frame_bytes
        chunk = bytearray()
        while len(chunk) < need:
            item = self._items[self._item]
            piece = item[self._offset : self._offset + need - len(chunk)]
            chunk += piece
            self._offset += len(piece)
            if self._offset >= len(item):
                self._item += 1
                self._offset = 0
                if self._item == len(self._items):
                    if not self.loop:
                        self.finished = True
                        break
                    self._item = 0
        if not chunk:
            return None
        if len(chunk) < need:
            chunk += bytes(need - len(chunk))
        return bytes(chunk)
