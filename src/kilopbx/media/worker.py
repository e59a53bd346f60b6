"""A media worker process: `python -m kilopbx.media.worker --socket PATH --ports LOW-HIGH`.

The worker runs RTP on its own uvloop, away from the signalling process's garbage
collector and database work. It listens for its controller on a Unix socket and
prints `ready` on stdout once it does. One controller at a time: a new connection
replaces the old one (a restarted signalling process reattaching), and the
endpoints keep relaying in between. A worker left without a controller for
`--linger` seconds exits, so a crashed supervisor does not leave orphans behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from ..config import ConfigError, PortRange
from . import control as c
from .worker_service import WorkerService

log = logging.getLogger("kilopbx.media.worker")
READ_SIZE = 65536
# a controller that does not read its answers is cut off rather than buffered forever
MAX_WRITE_BUFFER = 4 << 20


class ControlServer:
    def __init__(self, service_factory: type[WorkerService], args: argparse.Namespace) -> None:
        self.args = args
        self.service = service_factory(args.index, args.ports, args.bind, self.notify)
        self._writer: asyncio.StreamWriter | None = None
        self._outgoing = bytearray()
        self._orphan: asyncio.TimerHandle | None = None
        self._handlers: set[asyncio.Task[object]] = set()
        self.done = asyncio.Event()

    def notify(self, notification: c.Notification) -> None:
        self._send(c.encode(notification))

    def _send(self, frame: bytes) -> None:
        """Queue a frame; what one loop iteration answers (the commands of one read, a
        call's pipelined steps) leaves in one write, one system call."""
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing += frame

    def _flush(self) -> None:
        data, self._outgoing = self._outgoing, bytearray()
        writer = self._writer
        if writer is None or writer.is_closing() or not data:
            return
        transport = writer.transport
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("controller is not reading; closing the control connection")
            writer.close()
            return
        writer.write(data)

    async def serve(self) -> None:
        path = Path(self.args.socket)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        server = await asyncio.start_unix_server(self._connected, path=str(path))
        path.chmod(0o600)
        self.service.start()
        self._arm_orphan_timer()
        print("ready", flush=True)
        try:
            await self.done.wait()
        finally:
            server.close()
            if self._writer is not None:
                self._flush()  # what is queued still goes out before the close
                self._writer.close()
            if self._handlers:
                await asyncio.wait(self._handlers, timeout=1.0)
            self.service.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _arm_orphan_timer(self) -> None:
        if self.args.linger > 0:
            loop = asyncio.get_running_loop()
            self._orphan = loop.call_later(self.args.linger, self.done.set)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._writer is not None:
            self._flush()  # what was meant for the previous controller goes to it
            self._writer.close()
        if self._orphan is not None:
            self._orphan.cancel()
            self._orphan = None
        self._writer = writer
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        decoder = c.FrameDecoder()
        try:
            while data := await reader.read(READ_SIZE):
                for frame in decoder.feed(data):
                    await self._handle(frame)
        except c.ControlError as exc:
            self._send(c.encode(c.failed(None, c.BAD_REQUEST, str(exc))))
        except ConnectionError:
            pass
        finally:
            if self._writer is writer:
                self._flush()  # e.g. the refusal of a broken frame, then the close
                self._writer = None
                self._arm_orphan_timer()
            writer.close()

    async def _handle(self, frame: bytes) -> None:
        parsed = c.parse_command(frame)
        if isinstance(parsed, c.Answer):
            answer = parsed
        else:
            try:
                answer = await self.service.execute(parsed)
            except Exception as exc:  # a bug must cost one command, never the worker's calls
                log.exception("command %s failed", parsed.op)
                answer = c.failed(parsed.id, c.INTERNAL, type(exc).__name__)
        self._send(c.encode(answer))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kilopbx.media.worker")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    parser.add_argument("--ports", required=True, help="this worker's RTP port slice, LOW-HIGH")
    parser.add_argument("--bind", default="0.0.0.0", help="IPv4 address for RTP sockets")
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--linger", type=float, default=10.0)
    parser.add_argument("--nice", type=int, default=0, help="niceness change, e.g. -5")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        args.ports = PortRange.parse(args.ports)
    except ConfigError as exc:
        parser.error(str(exc))
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=f"%(asctime)s media-worker-{args.index}[{os.getpid()}] %(levelname)s %(message)s",
    )
    if args.nice:
        try:
            os.nice(args.nice)
        except PermissionError:
            log.info("not permitted to change priority by %d; running at the default", args.nice)
    import uvloop

    async def run() -> None:
        server = ControlServer(WorkerService, args)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.done.set)
        await server.serve()

    uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
