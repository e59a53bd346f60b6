"""Tracks, recordings and mixes without sockets: frames in, frames out."""

from __future__ import annotations

from kilopbx.media.codecs import G722, PCMA, PCMU, Decoder, encode
from kilopbx.media.mixer import Mixer
from kilopbx.media.recorder import Recording
from kilopbx.media.tracks import MAX_BUFFER_FRAMES, Track
from tests.media_audio import dominant_frequency, level, tone


class Sink:
    def __init__(self) -> None:
        self.data = bytearray()
        self.pending = bytearray()
        self.flushes = 0
        self.closed = False

    def write(self, pcm: bytes) -> None:
        self.pending += pcm

    def flush(self) -> int:
        self.flushes += 1
        size = len(self.pending)
        self.data += self.pending
        self.pending.clear()
        return size

    def close(self) -> None:
        self.flush()
        self.closed = True


def _frames(frequency: float, count: int, codec=PCMU) -> list[bytes]:  # type: ignore[no-untyped-def]
    pcm = tone(frequency, codec.sample_rate, 20 * count)
    size = 2 * codec.sample_rate // 50
    return [encode(codec, pcm[i * size : (i + 1) * size]) for i in range(count)]


def test_track_primes_pads_and_bounds_its_buffer() -> None:
    track = Track(8000)
    assert track.frame() is None
    frames = _frames(500, 3)
    track.feed(PCMU, frames[0])
    assert track.frame() is None  # waits for two frames
    track.feed(PCMU, frames[1])
    assert len(track.frame() or b"") == 320
    assert len(track.frame() or b"") == 320
    assert track.frame() is None  # underrun: primes again
    for frame in _frames(500, 30, PCMA):
        track.feed(PCMA, frame)  # a phone that sends too fast, in another codec
    assert len(track._buffer) == MAX_BUFFER_FRAMES * 320
    wide = Track(16000)
    for frame in _frames(700, 4, G722):
        wide.feed(G722, frame)
    assert len(wide.frame() or b"") == 640


def test_recording_mixes_both_parties_and_flushes_every_second() -> None:
    sink = Sink()
    recording = Recording(1, sink, ["a", "b"])
    for low, high in zip(_frames(400, 100), _frames(1300, 100), strict=True):
        recording.tracks["a"].feed(PCMU, low)
        recording.tracks["b"].feed(PCMU, high)
        recording.tick()
    assert recording.frames == 100 and sink.flushes == 2 and len(sink.data) == 32000
    recording.close()
    assert sink.closed and recording.bytes_written == 32000
    from tests.media_audio import goertzel

    pcm = bytes(sink.data[3200:])
    assert goertzel(pcm, 8000, 400) > 20 * goertzel(pcm, 8000, 900)
    assert goertzel(pcm, 8000, 1300) > 20 * goertzel(pcm, 8000, 900)


def test_a_track_joins_a_running_recording() -> None:
    sink = Sink()
    recording = Recording(1, sink, ["a"])
    for frame in _frames(400, 20):
        recording.tracks["a"].feed(PCMU, frame)
        recording.tick()
    joined = recording.join("b")
    assert recording.join("b") is joined and list(recording.tracks) == ["a", "b"]
    for low, high in zip(_frames(400, 50), _frames(1300, 50), strict=True):
        recording.tracks["a"].feed(PCMU, low)
        joined.feed(PCMU, high)
        recording.tick()
    from tests.media_audio import goertzel

    before, after = bytes(sink.data[: 20 * 320]), bytes(sink.data[24 * 320 :])
    assert goertzel(before, 8000, 1300) < goertzel(before, 8000, 400) / 100
    assert goertzel(after, 8000, 1300) > 20 * goertzel(after, 8000, 900)
    assert goertzel(after, 8000, 400) > 20 * goertzel(after, 8000, 900)


def test_recording_ends_on_its_limits() -> None:
    sink = Sink()
    longest = Recording(1, sink, ["a"], max_seconds=0.5)
    for _ in range(30):
        longest.tick()
    assert longest.ended == "max_length" and longest.frames == 25
    quiet = Recording(2, Sink(), ["a"], silence_seconds=0.4)
    for frame in _frames(600, 10):
        quiet.tracks["a"].feed(PCMU, frame)
        quiet.tick()
    assert quiet.ended is None
    for _ in range(25):
        quiet.tick()
    assert quiet.ended == "silence"
    assert quiet.frames < 10 + 25


def _mixed(mixer: Mixer, talkers: dict[str, float], ticks: int = 12) -> dict[str, bytes]:
    heard: dict[str, bytearray] = {e: bytearray() for e in mixer.members}
    streams = {e: _frames(f, ticks) for e, f in talkers.items()}
    decoder = {e: Decoder(PCMU) for e in mixer.members}
    for i in range(ticks):
        for endpoint, frames in streams.items():
            mixer.members[endpoint].track.feed(PCMU, frames[i])
        for endpoint, _, _, payload in mixer.tick({e: PCMU for e in mixer.members}):
            heard[endpoint] += decoder[endpoint].decode(payload)
    return {e: bytes(pcm[640:]) for e, pcm in heard.items()}


def test_listen_whisper_and_barge() -> None:
    from tests.media_audio import goertzel

    tones = {"agent": 500.0, "customer": 1000.0, "supervisor": 1500.0}

    def hears(pcm: bytes, who: str) -> bool:
        return goertzel(pcm, 8000, tones[who]) > 1e11  # a talker is ~4e13, leakage ~1e9

    mixer = Mixer(1, 8000)
    mixer.define(
        {
            "agent": frozenset({"customer"}),
            "customer": frozenset({"agent"}),
            "supervisor": frozenset({"agent", "customer"}),
        }
    )
    out = _mixed(mixer, tones)
    assert hears(out["agent"], "customer") and not hears(out["agent"], "supervisor")
    assert hears(out["customer"], "agent") and not hears(out["customer"], "supervisor")
    assert hears(out["supervisor"], "agent") and hears(out["supervisor"], "customer")
    mixer.define(  # whisper: the agent hears the supervisor too, the customer does not
        {
            "agent": frozenset({"customer", "supervisor"}),
            "customer": frozenset({"agent"}),
            "supervisor": frozenset({"agent", "customer"}),
        }
    )
    out = _mixed(mixer, tones)
    assert hears(out["agent"], "supervisor") and hears(out["agent"], "customer")
    assert not hears(out["customer"], "supervisor")
    mixer.define(dict.fromkeys(tones))  # barge: all hear all, never themselves
    out = _mixed(mixer, tones)
    for me in tones:
        for other in tones:
            assert hears(out[me], other) == (me != other), (me, other)


def test_a_mix_sends_silence_when_nobody_talks_and_follows_members() -> None:
    mixer = Mixer(1, 16000)
    mixer.define({"a": None, "b": None})
    out = mixer.tick({"a": PCMU, "b": G722})
    assert [(e, seq, ts) for e, seq, ts, _ in out] == [("a", 0, 0), ("b", 0, 0)]
    assert level(Decoder(PCMU).decode(out[0][3])) < 50
    assert len(out[1][3]) == 160  # G.722 at 64 kbit/s: 160 bytes per 20 ms
    out = mixer.tick({"a": PCMU})  # b has no codec: not sent to
    assert [(e, seq, ts) for e, seq, ts, _ in out] == [("a", 1, 160)]
    mixer.remove("b")
    mixer.define({"a": None, "c": None})
    assert set(mixer.members) == {"a", "c"} and mixer.members["a"].seq == 2
    assert dominant_frequency(tone(300, 8000, 100), 8000) > 0
