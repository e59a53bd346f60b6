"""What a call plays and records besides the relay: ringback, hold music, recording.

- **Ringback.** When the callee's phone rings without early media (a 180 without
  SDP), the caller gets a 180 *with* our SDP and hears the ringback tone from the
  worker, so every caller hears the same ringing, whatever its phone would have
  made up. Our answer's codec is then fixed for the call (a later 200 must repeat
  it), so the callee's codec is transcoded when it differs. The tone stops when the
  callee's early media or answer is connected.
- **Hold music.** A phone that puts the call on hold (re-INVITE `sendonly` or
  `inactive`) makes the *other* party hear the hold music, until it resumes.
- **Recording.** When the call is answered and one of its parties is recorded
  automatically (`CallRecordings`), both parties are recorded, mixed, into one WAV
  whose name the CDR carries; every party `call/add_member` brings in joins the
  same file (`record_party`), before or after the recording began. A party
  pressing `*1` during an answered call starts a recording on demand (and `*1`
  again stops an on-demand one); the one who pressed hears "recording started" or
  "recording stopped".

Each piece is optional: without a `SoundLibrary` the hold music is a soft tone and
prompts are not played; without `CallRecordings` nothing is recorded; a media error
costs the sound, never the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import TYPE_CHECKING

from kilopbx.engine.sdp_negotiation import Codec, answer_codec
from kilopbx.engine.sounds import HOLD_FALLBACK, RINGBACK, RecordingTarget
from kilopbx.media.pool import EndpointRef, MediaError, Playback, RecordingRef

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime

log = logging.getLogger(__name__)

INTERNAL = "Internal"
KEY_WINDOW = 2.0  # seconds between * and 1


class CallMedia:
    def __init__(self, runtime: CallRuntime) -> None:
        # the call owns this part: a strong link back would be a reference cycle, and
        # every ended call would wait for the cyclic collector (docs/decisions.md)
        self._runtime = weakref.ref(runtime)
        self.ringback: Playback | None = None
        self.early_codec: Codec | None = None  # fixed by the SDP of our 180
        self.hold: dict[str, Playback] = {}  # by the channel that put the call on hold
        self.recording: RecordingRef | None = None
        self.recording_name = ""
        self.on_demand = False  # started by *1: *1 may stop it
        self._star_at: float | None = None  # when a party last pressed *
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def runtime(self) -> CallRuntime:
        runtime = self._runtime()
        if runtime is None:
            raise RuntimeError("the call of these media is gone")
        return runtime

    # ---- ringback ------------------------------------------------------------------

    async def start_ringback(self) -> bytes:
        """Our SDP for the caller's 180, with the ringback tone playing; b"" when the
        caller's leg cannot take early media from us."""
        runtime = self.runtime
        anchor = runtime.a
        if anchor is None or not runtime.offer.codecs or runtime.offer.port == 0:
            return b""
        if self.ringback is None:
            try:
                self.ringback = await runtime.engine.media.play(
                    anchor.endpoint, RINGBACK, loop=True
                )
            except MediaError as exc:
                log.info("call %s: no ringback: %s", runtime.call.id, exc)
                return b""
        if self.early_codec is None:
            self.early_codec = answer_codec(runtime.offer, None)
            anchor.codecs, anchor.dtmf = (self.early_codec,), runtime.offer.dtmf
        return anchor.sdp()

    async def stop_ringback(self) -> None:
        playback, self.ringback = self.ringback, None
        if playback is not None and not playback.ended.done():
            with contextlib.suppress(MediaError):
                await self.runtime.engine.media.stop(playback.ref)

    # ---- hold music ----------------------------------------------------------------

    async def on_hold(self, channel: str, held: bool) -> None:
        """The phone on `channel` put the call on hold (or resumed it)."""
        runtime = self.runtime
        other = runtime.b if channel == runtime.caller_id else runtime.a
        if other is None:
            return
        pool = runtime.engine.media
        playing = self.hold.pop(channel, None)
        if held and playing is None:
            library = runtime.engine.sounds()
            source = library.hold_music() if library is not None else HOLD_FALLBACK
            try:
                self.hold[channel] = await pool.play(other.endpoint, source, loop=True)
            except MediaError as exc:
                log.info("call %s: no hold music: %s", runtime.call.id, exc)
        elif held and playing is not None:
            self.hold[channel] = playing  # a second hold re-INVITE: keep playing
        elif playing is not None and not playing.ended.done():
            with contextlib.suppress(MediaError):
                await pool.stop(playing.ref)

    # ---- recording -----------------------------------------------------------------

    def recording_target(self) -> RecordingTarget | None:
        """At the answer: where the call is recorded when one of its parties is
        recorded automatically (None: it is not, or is recorded already)."""
        runtime = self.runtime
        recordings = runtime.engine.recordings()
        if recordings is None or self.recording is not None:
            return None
        if runtime.a is None or runtime.b is None:
            return None
        call = runtime.call
        callee = runtime.target.number if runtime.target is not None else call.callee_number
        routed = runtime.outside is not None and runtime.outside.record  # a recorded route
        return recordings.target(
            call_id=call.id, started_at=call.created_at, caller=call.caller.number,
            callee=callee, call_type=INTERNAL, numbers=(call.caller.number, callee),
            on_demand=routed,
        )  # fmt: skip

    def on_key(self, endpoint_id: str, digit: str) -> None:
        """A key a party pressed during the call (RFC 4733, in band or SIP INFO; it is
        relayed as well)."""
        now = self.runtime.engine.clock.monotonic()
        if digit == "*":
            self._star_at = now
            return
        star, self._star_at = self._star_at, None
        if digit != "1" or star is None or now - star > KEY_WINDOW:
            return
        if self.runtime.call.answered_by is None or self.runtime.machine.ended:
            return
        task = asyncio.get_running_loop().create_task(self._toggle(endpoint_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _toggle(self, endpoint_id: str) -> None:
        runtime = self.runtime
        recordings = runtime.engine.recordings()
        if recordings is None or runtime.a is None or runtime.b is None:
            return
        pool = runtime.engine.media
        if self.recording is None:
            call = runtime.call
            callee = runtime.target.number if runtime.target is not None else call.callee_number
            target = recordings.target(
                call_id=call.id, started_at=call.created_at, caller=call.caller.number,
                callee=callee, call_type=INTERNAL, numbers=(), on_demand=True,
            )  # fmt: skip
            if target is None:
                return
            await self.record(target)
            self.on_demand = self.recording is not None
            prompt = "recording-started"
        elif self.on_demand and not self.recording.ended.done():
            with contextlib.suppress(MediaError):
                await pool.stop_record(self.recording)
            prompt = "recording-stopped"
        else:
            return  # an automatic recording cannot be stopped from a phone
        library = runtime.engine.sounds()
        source = library.prompt(prompt) if library is not None else None
        ref = next((e for e in runtime.endpoints() if e.id == endpoint_id), None)
        if ref is not None:
            with contextlib.suppress(MediaError):
                await pool.play(ref, source or "tone:beep")

    async def record_party(self, ref: EndpointRef) -> None:
        """A party joined the call (``call/add_member``), or took a released party's
        place on an endpoint of its own (an attended transfer completed, a parked
        call retrieved by ``call/dial``): a running recording takes what it says too."""
        recording = self.recording
        if recording is not None and not recording.ended.done():
            try:
                await self.runtime.engine.media.record_join(recording, ref)
            except MediaError as exc:
                log.info("call %s: the recording misses a party: %s", self.runtime.call.id, exc)

    def claim(self, target: RecordingTarget) -> None:
        """The call is recorded into ``target`` from now on: its name is what the call
        reports (the CDR) even before the worker writes, and the file is not
        downloadable until it is finished."""
        self.recording_name = target.name
        recordings = self.runtime.engine.recordings()
        if recordings is not None:
            recordings.started(target)

    def unclaim(self, target: RecordingTarget) -> None:
        """``target`` was claimed but its recording never started: no name, no file."""
        if self.recording is not None or self.recording_name != target.name:
            return
        self.recording_name = ""
        recordings = self.runtime.engine.recordings()
        if recordings is not None:
            recordings.finished(target)

    async def record(self, target: RecordingTarget) -> None:
        """Record the call into ``target`` (claimed, if it is not yet); a media error
        costs the recording (and its name), never the call."""
        runtime = self.runtime
        recordings = runtime.engine.recordings()
        assert runtime.a is not None and runtime.b is not None and recordings is not None
        added = [
            ref for channel, ref in runtime.members.parties() if channel.id in runtime.members.extra
        ]
        self.claim(target)
        try:
            self.recording = await runtime.engine.media.record(
                [runtime.a.endpoint, runtime.b.endpoint, *added], target.path
            )
        except MediaError as exc:
            log.error("call %s: cannot record: %s", runtime.call.id, exc)
            self.unclaim(target)
            return
        except BaseException:
            self.unclaim(target)
            raise
        self.recording.ended.add_done_callback(lambda _: recordings.finished(target))
