"""The signalling side of the media workers: start them, talk to them, replace the dead.

`MediaPool` starts N worker processes, gives each its slice of the RTP port range and
its own Unix socket, and turns commands into awaited answers (with a timeout, so a
stuck worker costs the caller an error, not a hung call setup). Notifications go to
the callback the engine registers. When a worker's socket closes or its process
exits, every command waiting on it fails with `WorkerLost`, the worker is started
again on the same slice, and `on_lost(worker, endpoint_ids)` tells the engine which
endpoints are gone, so it can hang those calls up and write their CDRs.

Endpoints live where they were created; the two legs of one call must share a worker
(`create_endpoint(near=...)`), because a bridge is an in-process relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..config import PortRange
from . import control as c
from .pool_apps import AppsClient
from .ports import split_range
from .refs import EndpointRef as EndpointRef
from .refs import MediaError as MediaError
from .refs import MixRef as MixRef
from .refs import Playback as Playback
from .refs import RecordingRef as RecordingRef
from .refs import WorkerLost as WorkerLost

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
COMMAND_TIMEOUT = 2.0
READ_SIZE = 65536
MAX_RESTART_DELAY = 5.0
# Workers run at this much higher priority (lower niceness) than signalling, when the OS
# permits: on a busy machine a late REGISTER answer is retried, a late RTP packet is a
# gap the caller hears.
PRIORITY_BOOST = 5

LostCallback = Callable[[int, set[str]], None]
NotificationCallback = Callable[[int, c.Notification], None]


class _Worker:
    def __init__(self, index: int, ports: PortRange, socket_path: Path) -> None:
        self.index = index
        self.ports = ports
        self.socket_path = socket_path
        self.process: asyncio.subprocess.Process | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending: dict[int, asyncio.Future[c.Answer]] = {}
        self.endpoints: set[str] = set()
        self.next_id = 0
        self.outgoing = bytearray()  # frames written in this loop iteration, sent at its end
        self.alive = False
        self.restarts = 0
        self.watcher: asyncio.Task[None] | None = None


class MediaPool(AppsClient):
    def __init__(
        self,
        workers: int,
        ports: PortRange,
        *,
        bind: str = "0.0.0.0",
        socket_dir: Path | None = None,
        on_lost: LostCallback | None = None,
        on_notification: NotificationCallback | None = None,
        command_timeout: float = COMMAND_TIMEOUT,
        linger: float = 10.0,
        priority_boost: int = PRIORITY_BOOST,
    ) -> None:
        if workers < 1:
            raise ValueError("at least one media worker is needed")
        self.bind = bind
        self.on_lost = on_lost
        self.on_notification = on_notification
        self.command_timeout = command_timeout
        self.linger = linger
        self.priority_boost = priority_boost
        self._own_dir = socket_dir is None
        self._dir = socket_dir or Path(tempfile.mkdtemp(prefix="kilopbx-media-"))
        self._workers = [
            _Worker(index, slice_, self._dir / f"worker-{index}.sock")
            for index, slice_ in enumerate(split_range(ports, workers))
        ]
        self._closing = False
        AppsClient.__init__(self)

    @property
    def size(self) -> int:
        return len(self._workers)

    def pid(self, index: int) -> int | None:
        process = self._workers[index].process
        return process.pid if process is not None else None

    # ---- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        try:
            await asyncio.gather(*(self._launch(worker) for worker in self._workers))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        self._closing = True
        for worker in self._workers:
            if worker.watcher is not None:
                worker.watcher.cancel()
        for worker in self._workers:
            self._fail_pending(worker)
            await self._stop_process(worker)
        if self._own_dir:
            with contextlib.suppress(OSError):
                for path in self._dir.iterdir():
                    path.unlink()
                self._dir.rmdir()

    async def _launch(self, worker: _Worker) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kilopbx.media.worker",
            "--socket", str(worker.socket_path), "--ports", str(worker.ports),
            "--bind", self.bind, "--index", str(worker.index), "--linger", str(self.linger),
            "--nice", str(-self.priority_boost),
            stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        worker.process = process
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT)
            if line.strip() != b"ready":
                raise RuntimeError(f"media worker {worker.index} did not start: {line!r}")
            reader, writer = await asyncio.open_unix_connection(str(worker.socket_path))
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise
        worker.outgoing = bytearray()  # nothing queued for the dead one goes to the new one
        worker.writer = writer
        worker.alive = True
        worker.watcher = asyncio.get_running_loop().create_task(self._watch(worker, reader))

    async def _stop_process(self, worker: _Worker) -> None:
        worker.alive = False
        if worker.writer is not None:
            worker.writer.close()
        process = worker.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def _watch(self, worker: _Worker, reader: asyncio.StreamReader) -> None:
        decoder = c.FrameDecoder()
        try:
            while data := await reader.read(READ_SIZE):
                for frame in decoder.feed(data):
                    self._dispatch(worker, c.parse_from_worker(frame))
        except (c.ControlError, ConnectionError) as exc:
            log.error("media worker %d: control channel broken: %s", worker.index, exc)
        if not self._closing:
            await self._replace(worker)

    def _dispatch(self, worker: _Worker, message: c.Answer | c.Notification) -> None:
        if isinstance(message, c.Notification):
            self._apps_notified(worker.index, message)
            if self.on_notification is not None:
                try:
                    self.on_notification(worker.index, message)
                except Exception:  # the engine's bug must not look like a dead worker
                    log.exception("media notification handler failed on %s", message.event)
            return
        future = worker.pending.pop(message.id, None) if message.id is not None else None
        if future is not None and not future.done():
            future.set_result(message)
        elif message.id is None:
            log.warning("media worker %d refused a command: %s", worker.index, message.detail)

    def _fail_pending(self, worker: _Worker) -> None:
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(WorkerLost(worker.index))
        worker.pending.clear()
        self._apps_lost(worker.index)

    async def _replace(self, worker: _Worker) -> None:
        """The worker died: fail what waits on it, report its endpoints, start another."""
        worker.alive = False
        self._fail_pending(worker)
        lost, worker.endpoints = worker.endpoints, set()
        if worker.writer is not None:
            worker.writer.close()
        if worker.process is not None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            code = await worker.process.wait()
            log.error(
                "media worker %d exited (%s); %d endpoints lost", worker.index, code, len(lost)
            )
        if self.on_lost is not None and lost:
            try:
                self.on_lost(worker.index, lost)
            except Exception:
                log.exception("media on_lost handler failed")
        delay = 0.0
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._launch(worker)
            except (OSError, RuntimeError, TimeoutError) as exc:
                log.error("media worker %d failed to restart: %s", worker.index, exc)
                delay = min(MAX_RESTART_DELAY, max(0.1, delay * 2))
                continue
            worker.restarts += 1
            return

    # ---- commands ------------------------------------------------------------------

    async def request(self, index: int, command: type[BaseModel], **fields: Any) -> c.Answer:
        """Send one command to worker `index` and wait for its answer; raise on an error."""
        worker = self._workers[index]
        if not worker.alive or worker.writer is None:
            raise WorkerLost(index)
        worker.next_id += 1
        command_id = worker.next_id
        message = command(id=command_id, **fields)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[c.Answer] = loop.create_future()
        worker.pending[command_id] = future
        self._send(worker, c.encode(message))
        # a plain timer on the answer's future: wait_for's extra future and callbacks
        # cost more than the rest of a command, several per call setup
        expiry = loop.call_later(self.command_timeout, _expire, future)
        try:
            answer = await future
        except TimeoutError:
            worker.pending.pop(command_id, None)
            raise MediaError("timeout", f"media worker {index} did not answer") from None
        finally:
            expiry.cancel()
        if not answer.ok:
            raise MediaError(answer.error or c.INTERNAL, answer.detail or "")
        return answer

    def _send(self, worker: _Worker, frame: bytes) -> None:
        """Queue a frame; the commands of one loop iteration (a call's pipelined steps,
        several calls' setups) leave in one write, one system call."""
        if not worker.outgoing:
            asyncio.get_running_loop().call_soon(self._flush, worker)
        worker.outgoing += frame

    @staticmethod
    def _flush(worker: _Worker) -> None:
        data, worker.outgoing = worker.outgoing, bytearray()
        if worker.alive and worker.writer is not None and data:
            worker.writer.write(data)

    def _least_loaded(self) -> int:
        alive = [w for w in self._workers if w.alive] or self._workers
        return min(alive, key=lambda w: len(w.endpoints)).index

    async def create_endpoint(
        self,
        codecs: list[tuple[int, str]],
        remote: tuple[str, int] | None = None,
        *,
        near: EndpointRef | None = None,
        rtp_timeout: float = 0.0,
        stats_interval: float = 0.0,
        rtcp_interval: float = 5.0,
    ) -> EndpointRef:
        index = near.worker if near is not None else self._least_loaded()
        answer = await self.request(
            index, c.CreateEndpoint,
            codecs=[c.CodecSpec(pt=pt, name=name) for pt, name in codecs],
            remote=None if remote is None else c.Remote(host=remote[0], port=remote[1]),
            rtp_timeout=rtp_timeout, stats_interval=stats_interval, rtcp_interval=rtcp_interval,
        )  # fmt: skip
        ref = EndpointRef(index, answer.result["endpoint"], answer.result["port"])
        self._workers[index].endpoints.add(ref.id)
        return ref

    async def modify_endpoint(self, ref: EndpointRef, **fields: Any) -> None:
        await self.request(ref.worker, c.ModifyEndpoint, endpoint=ref.id, **fields)

    async def delete_endpoint(self, ref: EndpointRef) -> dict[str, Any]:
        self._workers[ref.worker].endpoints.discard(ref.id)
        answer = await self.request(ref.worker, c.DeleteEndpoint, endpoint=ref.id)
        stats: dict[str, Any] = answer.result["stats"]
        return stats

    async def bridge(self, a: EndpointRef, b: EndpointRef) -> None:
        if a.worker != b.worker:
            raise MediaError(c.CONFLICT, "bridged endpoints must live in one worker")
        await self.request(a.worker, c.Bridge, a=a.id, b=b.id)

    async def unbridge(self, ref: EndpointRef) -> None:
        await self.request(ref.worker, c.Unbridge, endpoint=ref.id)

    async def loopback(self, ref: EndpointRef) -> None:
        """Echo what ``ref``'s phone sends back to it (see ``control.Loopback``)."""
        await self.request(ref.worker, c.Loopback, endpoint=ref.id)

    async def send_dtmf(self, ref: EndpointRef, digits: str, duration_ms: int = 100) -> None:
        await self.request(
            ref.worker, c.SendDtmf, endpoint=ref.id, digits=digits, duration_ms=duration_ms
        )

    async def stats(self, ref: EndpointRef) -> dict[str, Any]:
        answer = await self.request(ref.worker, c.QueryStats, endpoint=ref.id)
        result: dict[str, Any] = answer.result["endpoints"][0]
        return result

    async def worker_stats(self, index: int) -> dict[str, Any]:
        return (await self.request(index, c.QueryStats)).result


def _expire(future: asyncio.Future[c.Answer]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def worker_count(configured: int) -> int:
    """The `media_workers` setting: 0 means one worker per CPU core we may run on."""
    if configured > 0:
        return configured
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
