"""The audio codecs the relay knows, and the one place that converts between them.

G.711 (PCMU, PCMA) goes through the standard library's `audioop` (present up to
Python 3.12); G.722 through the `G722` wheel. Linear audio in between is 16-bit
signed native-endian PCM at the codec's own sampling rate: 8 kHz for G.711, 16 kHz
for G.722. All three use an RTP clock of 8000 Hz (RFC 3551 §4.5.2 keeps G.722 at
8000 for historical reasons), so transcoding never rescales RTP timestamps.

Converters are stateful (G.722 is ADPCM; resampling carries filter state), so each
direction of each bridge owns its own.
"""

from __future__ import annotations

import array
import warnings
from dataclasses import dataclass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

import G722 as _g722  # type: ignore[import-not-found]  # C extension without stubs

TELEPHONE_EVENT = "telephone-event"
RTP_CLOCK = 8000


@dataclass(frozen=True)
class Codec:
    name: str  # as in SDP a=rtpmap, upper case for audio codecs
    static_pt: int | None
    sample_rate: int  # linear PCM rate after decoding


PCMU = Codec("PCMU", 0, 8000)
PCMA = Codec("PCMA", 8, 8000)
G722 = Codec("G722", 9, 16000)
AUDIO_CODECS: dict[str, Codec] = {c.name: c for c in (PCMU, PCMA, G722)}


class CodecError(ValueError):
    """An unknown codec name or an unusable codec list."""


def codec_named(name: str) -> Codec:
    try:
        return AUDIO_CODECS[name.upper()]
    except KeyError:
        raise CodecError(f"unsupported audio codec {name!r}") from None


class Decoder:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._g722 = _g722.G722(16000, 64000) if codec is G722 else None

    def decode(self, payload: bytes) -> bytes:
        if self.codec is PCMU:
            return audioop.ulaw2lin(payload, 2)
        if self.codec is PCMA:
            return audioop.alaw2lin(payload, 2)
        assert self._g722 is not None
        result: bytes = self._g722.decode(payload).tobytes()
        return result


class Encoder:
    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._g722 = _g722.G722(16000, 64000) if codec is G722 else None

    def encode(self, pcm: bytes) -> bytes:
        if self.codec is PCMU:
            return audioop.lin2ulaw(pcm, 2)
        if self.codec is PCMA:
            return audioop.lin2alaw(pcm, 2)
        assert self._g722 is not None
        result: bytes = self._g722.encode(_samples(pcm))
        return result


def _samples(pcm: bytes) -> array.array[int]:
    samples = array.array("h")
    samples.frombytes(pcm)
    return samples


class Resampler:
    """Linear PCM from one rate to another, keeping filter state between frames."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._state: tuple[int, tuple[tuple[int, int], ...]] | None = None

    def convert(self, pcm: bytes) -> bytes:
        if self.from_rate == self.to_rate:
            return pcm
        out, self._state = audioop.ratecv(pcm, 2, 1, self.from_rate, self.to_rate, self._state)
        # ratecv's first call comes up a sample short; a frame must keep its exact length
        expected = len(pcm) * self.to_rate // self.from_rate
        if len(out) < expected:
            return bytes(expected - len(out)) + out
        result: bytes = out[:expected]
        return result


class Transcoder:
    """One direction of a bridge whose legs share no codec: decode, resample, encode."""

    def __init__(self, source: Codec, target: Codec) -> None:
        self.source = source
        self.target = target
        self._decoder = Decoder(source)
        self._resampler = Resampler(source.sample_rate, target.sample_rate)
        self._encoder = Encoder(target)

    def convert(self, payload: bytes) -> bytes:
        if self.source is PCMU and self.target is PCMA:
            return audioop.lin2alaw(audioop.ulaw2lin(payload, 2), 2)
        pcm = self._resampler.convert(self._decoder.decode(payload))
        return self._encoder.encode(pcm)


def decode(codec: Codec, payload: bytes) -> bytes:
    """Stateless convenience for tests and tools: one payload to linear PCM."""
    return Decoder(codec).decode(payload)


def encode(codec: Codec, pcm: bytes) -> bytes:
    """Stateless convenience for tests and tools: linear PCM to one payload."""
    return Encoder(codec).encode(pcm)
