"""What the signalling side holds of media work: endpoint, playback, recording and mix
references, and the errors of the control channel."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..core.errors import DomainError


class MediaError(DomainError):
    """A command the worker refused (or could not answer): the reason is `media.<code>`,
    where `code` is the control protocol's error code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"media.{code}", detail)
        self.code = code


class WorkerLost(MediaError):
    def __init__(self, index: int) -> None:
        super().__init__("worker_lost", f"media worker {index} went away")


@dataclass(frozen=True)
class EndpointRef:
    worker: int
    id: str
    port: int


@dataclass(frozen=True)
class Playback:
    """A `play` under way. `ended` resolves with the reason it stopped: `finished`,
    `stopped`, `replaced` (another play on the endpoint), `deleted` (the endpoint went)
    or `worker_lost`."""

    ref: EndpointRef
    id: int
    seconds: float  # the length of one pass through the playlist
    ended: asyncio.Future[str]

    async def wait(self, timeout: float | None = None) -> str:
        return await asyncio.wait_for(asyncio.shield(self.ended), timeout)


@dataclass(frozen=True)
class RecordingRef:
    """A `record` under way. `ended` resolves with the worker's `recording_ended` data:
    `reason` (`stopped`, `deleted`, `max_length`, `silence`, `write_error`, `closed` or
    `worker_lost`), `seconds` and `bytes` (absent after `worker_lost`)."""

    worker: int
    id: int
    path: str
    ended: asyncio.Future[dict[str, Any]]

    async def wait(self, timeout: float | None = None) -> dict[str, Any]:
        return await asyncio.wait_for(asyncio.shield(self.ended), timeout)


@dataclass(frozen=True)
class MixRef:
    worker: int
    id: int
