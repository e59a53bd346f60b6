"""Mixing, sans IO: N legs, each hearing the sum of a chosen set of the others.

A mix is a conference, or a call with a supervisor in it. Every member has a track
(what its phone sends) and a set of members it hears:

- everyone hears everyone else (`hears=None`): a conference, or a barge;
- listen: the supervisor hears both parties, and nobody hears the supervisor;
- whisper: the agent hears the customer and the supervisor, the customer hears only
  the agent.

A member never hears itself. Each tick of the worker's 20 ms clock takes one frame
from every track, and gives every member the saturating sum of the frames it hears,
encoded in its own codec (silence when nobody it hears is talking, so its stream
stays continuous). The mix runs at 16 kHz when a member speaks a wideband codec
when it is defined, otherwise at 8 kHz.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from .codecs import Codec, Encoder, Resampler
from .player import FRAME_TS
from .tracks import Track

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop


class Member:
    __slots__ = ("_codec", "_encoder", "_resampler", "endpoint", "hears", "seq", "track")

    def __init__(self, endpoint: str, rate: int, hears: frozenset[str] | None) -> None:
        self.endpoint = endpoint
        self.track = Track(rate)
        self.hears = hears
        self.seq = 0
        self._codec: Codec | None = None
        self._encoder: Encoder | None = None
        self._resampler: Resampler | None = None

    def encode(self, pcm: bytes, rate: int, codec: Codec) -> bytes:
        if codec is not self._codec:
            self._codec = codec
            self._encoder = Encoder(codec)
            self._resampler = Resampler(rate, codec.sample_rate)
        assert self._encoder is not None and self._resampler is not None
        return self._encoder.encode(self._resampler.convert(pcm))


class Mixer:
    def __init__(self, mix: int, rate: int) -> None:
        self.mix = mix
        self.rate = rate
        self.members: dict[str, Member] = {}
        self._silence = bytes(2 * rate // 50)

    def define(self, members: Mapping[str, frozenset[str] | None]) -> None:
        """Set the members and who hears whom; a member kept keeps its track and stream."""
        for endpoint in [e for e in self.members if e not in members]:
            del self.members[endpoint]
        for endpoint, hears in members.items():
            member = self.members.get(endpoint)
            if member is None:
                self.members[endpoint] = Member(endpoint, self.rate, hears)
            else:
                member.hears = hears

    def remove(self, endpoint: str) -> None:
        self.members.pop(endpoint, None)

    def tick(self, codecs: Mapping[str, Codec]) -> list[tuple[str, int, int, bytes]]:
        """(endpoint, sequence, timestamp, payload) for every member whose codec is given."""
        frames: dict[str, bytes] = {}
        for endpoint, member in self.members.items():
            frame = member.track.frame()
            if frame is not None:
                frames[endpoint] = frame
        total: bytes | None = None
        if any(m.hears is None for m in self.members.values()):
            for frame in frames.values():
                total = frame if total is None else audioop.add(total, frame, 2)
        out: list[tuple[str, int, int, bytes]] = []
        for endpoint, member in self.members.items():
            codec = codecs.get(endpoint)
            if codec is None:
                continue
            heard = self._heard(endpoint, member, frames, total)
            payload = member.encode(heard, self.rate, codec)
            seq = member.seq
            member.seq += 1
            out.append((endpoint, seq & 0xFFFF, (seq * FRAME_TS) & 0xFFFFFFFF, payload))
        return out

    def _heard(
        self, endpoint: str, member: Member, frames: Mapping[str, bytes], total: bytes | None
    ) -> bytes:
        own = frames.get(endpoint)
        if member.hears is None:
            if total is None:
                return self._silence
            if own is None:
                return total
            if len(frames) == 2:  # the usual case: exactly the other one, no rounding at all
                return next(f for e, f in frames.items() if e != endpoint)
            # the others' sum: add them again rather than subtract, saturation is not linear
            heard: bytes | None = None
            for other, frame in frames.items():
                if other != endpoint:
                    heard = frame if heard is None else audioop.add(heard, frame, 2)
            return heard or self._silence
        mixed: bytes | None = None
        for other in member.hears:
            piece = frames.get(other)
            if piece is not None and other != endpoint:
                mixed = piece if mixed is None else audioop.add(mixed, piece, 2)
        return self._silence if mixed is None else mixed
