"""The worker's media applications: players, recordings and mixes on one 20 ms clock.

`MediaApps` carries out `play`, `stop`, `record`, `stop_record`, `mix` and `unmix`,
and runs the worker's media clock while any of them needs it. One timer serves them
all: each tick sends every player's due frames, writes one frame of every
recording and gives every mix member its frame. Everything sent goes through the
endpoint's rewriter, so the phone sees one continuous stream whether it hears the
far party, a prompt, a conference or a digit. While a player runs on an endpoint,
relayed or mixed audio toward it is held back (the endpoint's `playing` flag).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from . import control as c
from .codecs import Codec
from .endpoint import Endpoint
from .mixer import Mixer
from .player import FRAME_SECONDS, Player
from .recorder import Recording
from .sources import SourceCache, SourceError
from .wav import WavWriter

log = logging.getLogger(__name__)

PLAYER_SOURCE = -2  # the rewriter's source keys: DTMF uses -1
MIX_SOURCE = -3
MAX_RECORDED = 16  # endpoints of one recording (as `Record.endpoints` allows)


class LegLike(Protocol):
    endpoint: Endpoint
    rtp: asyncio.DatagramTransport | None


class MediaApps:
    def __init__(
        self,
        legs: Mapping[str, LegLike],
        notify: Callable[[c.Notification], None],
        unbridge: Callable[[str], None] = lambda endpoint: None,
    ) -> None:
        self._legs = legs
        self._notify = notify
        self._unbridge = unbridge
        self.sources = SourceCache()
        self.players: dict[str, Player] = {}
        self.recordings: dict[int, Recording] = {}
        self.mixes: dict[int, Mixer] = {}
        self._mix_of: dict[str, int] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._next_tick = 0.0

    @property
    def busy(self) -> bool:
        return bool(self.players or self.recordings or self.mixes)

    # ---- play ----------------------------------------------------------------------

    def play(self, command: c.Play) -> c.Answer:
        leg = self._legs[command.endpoint]
        rate = leg.endpoint.payloads.send_codec.sample_rate
        names = [command.source] if isinstance(command.source, str) else command.source
        try:
            items = [self.sources.load(name, rate) for name in names]
        except SourceError as exc:
            return c.failed(command.id, c.NOT_FOUND if exc.missing else c.BAD_REQUEST, str(exc))
        now = time.monotonic()
        self._end_player(command.endpoint, "replaced")
        player = Player(
            command.playback, items, rate, loop=command.loop, start=now, gain_db=command.gain_db
        )
        self.players[command.endpoint] = player
        leg.endpoint.playing = True
        self._run(now)
        seconds = sum(len(item) for item in items) / (2 * rate)
        return c.ok(command.id, playback=command.playback, seconds=round(seconds, 3))

    def stop(self, command: c.Stop) -> c.Answer:
        self._legs[command.endpoint]  # a KeyError answers not_found
        return c.ok(command.id, stopped=self._end_player(command.endpoint, "stopped"))

    def _end_player(self, endpoint_id: str, reason: str) -> bool:
        player = self.players.pop(endpoint_id, None)
        if player is None:
            return False
        leg = self._legs.get(endpoint_id)
        if leg is not None:
            leg.endpoint.playing = False
        data = {"playback": player.playback, "reason": reason, "frames": player.frames_sent}
        data["skipped"] = player.frames_skipped
        self._notify(c.Notification(event="playback_ended", endpoint=endpoint_id, data=data))
        return True

    # ---- record --------------------------------------------------------------------

    def record(self, command: c.Record) -> c.Answer:
        legs = [self._legs[endpoint] for endpoint in command.endpoints]  # KeyError: not_found
        if len(set(command.endpoints)) != len(command.endpoints):
            return c.failed(command.id, c.BAD_REQUEST, "an endpoint is listed twice")
        if command.recording in self.recordings:
            return c.failed(command.id, c.CONFLICT, f"recording {command.recording} exists")
        path = Path(command.path)
        if not path.is_absolute() or ".." in path.parts or path.suffix != ".wav":
            return c.failed(command.id, c.BAD_REQUEST, "path must be absolute, end in .wav")
        try:
            writer = WavWriter(path, command.rate)
        except FileExistsError:
            return c.failed(command.id, c.CONFLICT, f"{path.name} exists already")
        except OSError as exc:
            return c.failed(command.id, c.BAD_REQUEST, f"cannot write {path.name}: {exc.strerror}")
        recording = Recording(
            command.recording, writer, command.endpoints, command.rate,
            max_seconds=command.max_seconds, silence_seconds=command.silence_seconds,
        )  # fmt: skip
        for leg in legs:
            leg.endpoint.taps.append(recording.tracks[leg.endpoint.id].feed)
        self.recordings[command.recording] = recording
        self._run(time.monotonic())
        return c.ok(command.id, recording=command.recording)

    def record_join(self, command: c.RecordJoin) -> c.Answer:
        recording = self.recordings.get(command.recording)
        if recording is None:
            return c.failed(command.id, c.NOT_FOUND, f"no recording {command.recording}")
        leg = self._legs[command.endpoint]  # KeyError: not_found
        if command.endpoint in recording.tracks:
            return c.ok(command.id, recording=command.recording)
        if len(recording.tracks) >= MAX_RECORDED:
            return c.failed(command.id, c.BAD_REQUEST, f"at most {MAX_RECORDED} endpoints")
        leg.endpoint.taps.append(recording.join(command.endpoint).feed)
        return c.ok(command.id, recording=command.recording)

    def stop_record(self, command: c.StopRecord) -> c.Answer:
        recording = self.recordings.get(command.recording)
        if recording is None:
            return c.failed(command.id, c.NOT_FOUND, f"no recording {command.recording}")
        seconds = recording.seconds
        self._end_recording(recording, "stopped")
        return c.ok(command.id, recording=command.recording, seconds=seconds)

    def _end_recording(self, recording: Recording, reason: str) -> None:
        self.recordings.pop(recording.recording, None)
        for endpoint_id, track in recording.tracks.items():
            leg = self._legs.get(endpoint_id)
            if leg is not None and track.feed in leg.endpoint.taps:
                leg.endpoint.taps.remove(track.feed)
        try:
            recording.close()
        except OSError as exc:  # a full disk must not take the worker down
            log.error("recording %d: closing failed: %s", recording.recording, exc)
        data = {"recording": recording.recording, "reason": reason}
        data |= {"seconds": round(recording.seconds, 2), "bytes": recording.bytes_written}
        endpoint = next(iter(recording.tracks))
        self._notify(c.Notification(event="recording_ended", endpoint=endpoint, data=data))

    # ---- mix -----------------------------------------------------------------------

    def mix(self, command: c.Mix) -> c.Answer:
        legs = {m.endpoint: self._legs[m.endpoint] for m in command.members}  # KeyError
        if len(legs) != len(command.members):
            return c.failed(command.id, c.BAD_REQUEST, "an endpoint is listed twice")
        for member in command.members:
            if member.hears is not None and not set(member.hears) <= legs.keys():
                return c.failed(command.id, c.BAD_REQUEST, "hears names a non-member")
        mixer = self.mixes.get(command.mix)
        if mixer is None:
            wide = any(leg.endpoint.payloads.send_codec.sample_rate > 8000 for leg in legs.values())
            mixer = self.mixes[command.mix] = Mixer(command.mix, 16000 if wide else 8000)
        for endpoint_id in [e for e in mixer.members if e not in legs]:
            self.leave_mix(endpoint_id)
        for endpoint_id in legs:
            other = self._mix_of.get(endpoint_id)
            if other is not None and other != command.mix:
                self.leave_mix(endpoint_id)
            self._unbridge(endpoint_id)
        mixer.define(
            {m.endpoint: None if m.hears is None else frozenset(m.hears) for m in command.members}
        )
        for endpoint_id, leg in legs.items():
            feed = mixer.members[endpoint_id].track.feed
            if self._mix_of.get(endpoint_id) != command.mix:
                leg.endpoint.taps.append(feed)
                self._mix_of[endpoint_id] = command.mix
        self._run(time.monotonic())
        return c.ok(command.id, mix=command.mix, members=len(mixer.members))

    def unmix(self, command: c.Unmix) -> c.Answer:
        mixer = self.mixes.get(command.mix)
        if mixer is None:
            return c.failed(command.id, c.NOT_FOUND, f"no mix {command.mix}")
        for endpoint_id in list(mixer.members):
            self.leave_mix(endpoint_id)
        self.mixes.pop(command.mix, None)
        return c.ok(command.id, mix=command.mix)

    def leave_mix(self, endpoint_id: str) -> None:
        mix = self._mix_of.pop(endpoint_id, None)
        mixer = self.mixes.get(mix) if mix is not None else None
        if mixer is None:
            return
        member = mixer.members.get(endpoint_id)
        leg = self._legs.get(endpoint_id)
        if member is not None and leg is not None and member.track.feed in leg.endpoint.taps:
            leg.endpoint.taps.remove(member.track.feed)
        mixer.remove(endpoint_id)
        if not mixer.members:
            self.mixes.pop(mixer.mix, None)

    # ---- life cycle ----------------------------------------------------------------

    def endpoint_deleted(self, endpoint_id: str) -> None:
        self._end_player(endpoint_id, "deleted")
        self.leave_mix(endpoint_id)
        for recording in list(self.recordings.values()):
            if endpoint_id in recording.tracks and all(
                e == endpoint_id or e not in self._legs for e in recording.tracks
            ):
                self._end_recording(recording, "deleted")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for recording in list(self.recordings.values()):
            self._end_recording(recording, "closed")
        self.players.clear()
        self.mixes.clear()

    # ---- the media clock -----------------------------------------------------------

    def _run(self, now: float) -> None:
        if self._handle is None:
            self._next_tick = now
            loop = asyncio.get_running_loop()
            self._handle = loop.call_at(loop.time(), self._tick)

    def _tick(self) -> None:
        self._handle = None
        now = time.monotonic()
        try:
            self.tick(now)
        finally:
            if self.busy:
                self._next_tick += FRAME_SECONDS
                if self._next_tick < now - 5 * FRAME_SECONDS:
                    self._next_tick = now  # a long stall: players catch up by themselves
                loop = asyncio.get_running_loop()
                # the loop's clock and time.monotonic() may differ in origin: use a delay
                self._handle = loop.call_at(
                    loop.time() + max(0.0, self._next_tick - now), self._tick
                )

    def tick(self, now: float) -> None:
        """One tick of the media clock: send what is due, record and mix one frame."""
        for endpoint_id, player in list(self.players.items()):
            leg = self._legs.get(endpoint_id)
            if leg is None:
                self.players.pop(endpoint_id, None)
                continue
            payloads = leg.endpoint.payloads
            for seq, ts, payload in player.due(now, payloads.send_codec):
                self._send(leg, payloads.send_pt, seq, ts, payload, now, PLAYER_SOURCE)
            if player.finished and now >= player.next_due - FRAME_SECONDS / 2:
                self._end_player(endpoint_id, "finished")
        for recording in list(self.recordings.values()):
            try:
                recording.tick()
            except OSError as exc:
                log.error("recording %d: write failed: %s", recording.recording, exc)
                recording.ended = "write_error"
            if recording.ended is not None:
                self._end_recording(recording, recording.ended)
        for mixer in list(self.mixes.values()):
            codecs: dict[str, Codec] = {}
            for endpoint_id in mixer.members:
                leg = self._legs.get(endpoint_id)
                if leg is not None:
                    codecs[endpoint_id] = leg.endpoint.payloads.send_codec
            for endpoint_id, seq, ts, payload in mixer.tick(codecs):
                leg = self._legs[endpoint_id]
                if not leg.endpoint.playing:
                    pt = leg.endpoint.payloads.send_pt
                    self._send(leg, pt, seq, ts, payload, now, MIX_SOURCE)

    @staticmethod
    def _send(
        leg: LegLike, pt: int, seq: int, ts: int, payload: bytes, now: float, source: int
    ) -> None:
        out = leg.endpoint.local_packet(pt, False, seq, ts, payload, now, source=source)
        if out is not None and leg.rtp is not None and not leg.rtp.is_closing():
            leg.rtp.sendto(out[0], out[1])
