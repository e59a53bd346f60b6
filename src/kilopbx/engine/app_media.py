"""The media side of an application call, as ``AppChannel`` offers it: prompts, keys
(from the worker and from SIP INFO, in one queue) and recordings on the caller's
endpoint. ``AppCall`` (``app_call.py``) adds the SIP side and the hand-overs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from kilopbx.engine.anchor import Anchor
from kilopbx.engine.applications import Recorded
from kilopbx.media.pool import EndpointRef, MediaError

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

MAX_PENDING_DIGITS = 64
PROMPT_LIMIT = 600.0  # seconds: a prompt that never reports its end is given up


class AppMedia:
    def __init__(self, engine: CallEngine, call_id: str) -> None:
        self.engine = engine
        self.id = call_id
        self.anchor: Anchor | None = None
        self.gone = False
        self.digits: asyncio.Queue[str | None] = asyncio.Queue()
        self._interrupt: asyncio.Future[None] | None = None  # a key or hang-up cuts a prompt

    def _gone(self) -> None:
        self.gone = True
        self.digits.put_nowait(None)
        self._cut_prompt()

    def _cut_prompt(self) -> None:
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(None)

    def _digit(self, digit: str) -> None:
        if len(digit) == 1 and self.digits.qsize() < MAX_PENDING_DIGITS and not self.gone:
            self.digits.put_nowait(digit)
            self._cut_prompt()  # a key cuts the prompt short

    @property
    def hung_up(self) -> bool:
        return self.gone

    async def play(self, prompt: str) -> bool:
        endpoint = self._endpoint()
        if endpoint is None or self.gone or not self.digits.empty():
            return False
        try:
            playback = await self.engine.media.play(endpoint, prompt)
        except MediaError as exc:
            log.info("application call %s: prompt %s not played: %s", self.id, prompt[:80], exc)
            return False
        interrupt: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._interrupt = interrupt
        waiters: set[asyncio.Future[Any]] = {playback.ended, interrupt}
        try:
            await asyncio.wait(
                waiters,
                timeout=PROMPT_LIMIT,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            self._interrupt = None
        ended = playback.ended.done() and playback.ended.result() == "finished"
        if not ended and not playback.ended.done():
            await self._stop_playing()
        return ended

    async def record(
        self, path: str, *, max_seconds: float, silence_seconds: float, stop_key: str = "#"
    ) -> Recorded:
        endpoint = self._endpoint()
        if endpoint is None or self.gone:
            return Recorded(0.0, "hangup")
        self.clear_digits()
        try:
            recording = await self.engine.media.record(
                [endpoint], path, max_seconds=max_seconds, silence_seconds=silence_seconds
            )
        except MediaError as exc:
            log.warning("application call %s: no recording: %s", self.id, exc)
            return Recorded(0.0, "failed")
        why = ""
        while not why:
            interrupt: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._interrupt = interrupt
            waiters: set[asyncio.Future[Any]] = {recording.ended, interrupt}
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._interrupt = None
            if recording.ended.done():
                ended = recording.ended.result()
                reason = str(ended.get("reason", ""))
                return Recorded(float(ended.get("seconds", 0.0)), reason or "failed")
            if self._hung_up_now():
                why = "hangup"
            elif stop_key in self._drain_digits():
                why = "key"
        with contextlib.suppress(MediaError):
            return Recorded(await self.engine.media.stop_record(recording), why)
        return Recorded(0.0, why)

    def _hung_up_now(self) -> bool:
        return self.gone  # a call, so that type narrowing does not keep it False

    def _drain_digits(self) -> str:
        keys = ""
        while not self.digits.empty():
            key = self.digits.get_nowait()
            if key is None:
                self.digits.put_nowait(None)
                break
            keys += key
        return keys

    async def _stop_playing(self) -> None:
        endpoint = self._endpoint()
        if endpoint is not None and not self.gone:
            with contextlib.suppress(MediaError):
                await self.engine.media.stop(endpoint)

    async def next_digit(self, timeout: float | None) -> str | None:
        if self.gone:
            return None
        try:
            return await asyncio.wait_for(self.digits.get(), timeout)
        except TimeoutError:
            return None

    def pending_digits(self) -> int:
        return self.digits.qsize()

    def clear_digits(self) -> None:
        while not self.digits.empty():
            if self.digits.get_nowait() is None:
                self.digits.put_nowait(None)
                return

    def _endpoint(self) -> EndpointRef | None:
        return None if self.anchor is None else self.anchor.endpoint
