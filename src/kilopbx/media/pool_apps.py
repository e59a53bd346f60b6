"""The media applications of `MediaPool`: play, stop, record, mix (a mixin).

Kept apart from the pool's process management. Each playback and recording gets a
number chosen here, sent in the command and repeated by the worker in its
`playback_ended` / `recording_ended` notification; the pool resolves the matching
future when the notification arrives (or `worker_lost` when the worker dies).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from . import control as c
from .refs import EndpointRef, MediaError, MixRef, Playback, RecordingRef


class AppsClient:
    def __init__(self) -> None:
        self._playbacks: dict[tuple[int, int], asyncio.Future[str]] = {}
        self._recordings: dict[tuple[int, int], asyncio.Future[dict[str, Any]]] = {}
        self._next_playback = 0
        self._next_recording = 0
        self._next_mix = 0

    async def request(self, index: int, command: type[BaseModel], **fields: Any) -> c.Answer:
        raise NotImplementedError  # pragma: no cover - MediaPool provides it

    def _apps_notified(self, index: int, message: c.Notification) -> None:
        if message.event == "playback_ended":
            self._playback_ended(index, message.data)
        elif message.event == "recording_ended":
            self._recording_ended(index, message.data)

    def _apps_lost(self, index: int) -> None:
        for key in [key for key in self._playbacks if key[0] == index]:
            self._playback_ended(index, {"playback": key[1], "reason": "worker_lost"})
        for key in [key for key in self._recordings if key[0] == index]:
            self._recording_ended(index, {"recording": key[1], "reason": "worker_lost"})

    def _recording_ended(self, index: int, data: dict[str, Any]) -> None:
        recording = data.get("recording")
        if not isinstance(recording, int):
            return
        future = self._recordings.pop((index, recording), None)
        if future is not None and not future.done():
            future.set_result(data)

    def _playback_ended(self, index: int, data: dict[str, Any]) -> None:
        playback = data.get("playback")
        if not isinstance(playback, int):
            return
        future = self._playbacks.pop((index, playback), None)
        if future is not None and not future.done():
            future.set_result(str(data.get("reason", "finished")))

    async def play(
        self,
        ref: EndpointRef,
        source: str | Sequence[str],
        *,
        loop: bool = False,
        gain_db: float = 0.0,
    ) -> Playback:
        """Play `source` (or a playlist) to the endpoint; see `sources.py` for the names.

        Returns once the worker has started it; `Playback.ended` tells when it stops.
        A missing file raises `MediaError` with code `not_found`, a bad one `bad_request`.
        """
        self._next_playback += 1
        playback = self._next_playback
        ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._playbacks[(ref.worker, playback)] = ended
        names: str | list[str] = source if isinstance(source, str) else list(source)
        try:
            answer = await self.request(
                ref.worker, c.Play, endpoint=ref.id, source=names, loop=loop,
                playback=playback, gain_db=gain_db,
            )  # fmt: skip
        except BaseException:
            self._playbacks.pop((ref.worker, playback), None)
            raise
        return Playback(ref, playback, float(answer.result.get("seconds", 0.0)), ended)

    async def stop(self, ref: EndpointRef) -> bool:
        """Stop what plays on the endpoint (its `Playback` ends with `stopped`)."""
        answer = await self.request(ref.worker, c.Stop, endpoint=ref.id)
        return bool(answer.result.get("stopped"))

    async def record(
        self,
        refs: Sequence[EndpointRef],
        path: str | os.PathLike[str],
        *,
        rate: int = 8000,
        max_seconds: float = 0.0,
        silence_seconds: float = 0.0,
    ) -> RecordingRef:
        """Record what the phones of `refs` send, mixed, into a new WAV file at `path`
        (absolute, ending in `.wav`, not existing yet; its directory must exist).

        The file is valid on disk at every moment (sizes rewritten each second)."""
        workers = {ref.worker for ref in refs}
        if len(workers) != 1:
            raise MediaError(c.CONFLICT, "recorded endpoints must live in one worker")
        index = workers.pop()
        self._next_recording += 1
        recording = self._next_recording
        ended: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._recordings[(index, recording)] = ended
        try:
            await self.request(
                index, c.Record, endpoints=[ref.id for ref in refs], path=str(path),
                recording=recording, rate=rate, max_seconds=max_seconds,
                silence_seconds=silence_seconds,
            )  # fmt: skip
        except BaseException:
            self._recordings.pop((index, recording), None)
            raise
        return RecordingRef(index, recording, str(path), ended)

    async def record_join(self, recording: RecordingRef, ref: EndpointRef) -> None:
        """Add what the phone of `ref` sends to the running `recording` (one worker)."""
        if ref.worker != recording.worker:
            raise MediaError(c.CONFLICT, "recorded endpoints must live in one worker")
        await self.request(recording.worker, c.RecordJoin, recording=recording.id, endpoint=ref.id)

    async def stop_record(self, recording: RecordingRef) -> float:
        """Stop and close the recording; returns its length in seconds."""
        answer = await self.request(recording.worker, c.StopRecord, recording=recording.id)
        return float(answer.result.get("seconds", 0.0))

    async def mix(
        self,
        members: Mapping[EndpointRef, Sequence[EndpointRef] | None],
        *,
        mix: MixRef | None = None,
    ) -> MixRef:
        """Mix the endpoints: each hears the members listed for it (None: all others).

        Pass `mix` to redefine an existing mix (join, leave, change who hears whom).
        listen: `{agent: [customer], customer: [agent], supervisor: [agent, customer]}`;
        whisper: the same with the agent hearing `[customer, supervisor]`; barge: all None.
        """
        workers = {ref.worker for ref in members} | ({mix.worker} if mix else set())
        if len(workers) != 1:
            raise MediaError(c.CONFLICT, "mixed endpoints must live in one worker")
        index = workers.pop()
        if mix is None:
            self._next_mix += 1
            mix = MixRef(index, self._next_mix)
        wire = [
            c.MixMember(endpoint=ref.id, hears=None if hears is None else [h.id for h in hears])
            for ref, hears in members.items()
        ]
        await self.request(index, c.Mix, mix=mix.id, members=wire)
        return mix

    async def unmix(self, mix: MixRef) -> None:
        await self.request(mix.worker, c.Unmix, mix=mix.id)
