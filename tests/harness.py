"""Run a real `kilopbx serve` for end-to-end tests, and talk to it over real sockets.

Every test PBX gets its own data directory and free ports on 127.0.0.1; nothing is
shared between tests. Helpers are synchronous (http.client) so tests stay simple.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
API_USER = "apiuser"
API_PASSWORD = "Test1Secret2Pass"
# a bound, not a timing check: a first start on a loaded machine compiles and spawns a lot
START_TIMEOUT = 90.0
PROMPTS_SEED = Path(tempfile.gettempdir()) / f"kilopbx-test-prompts-{os.getuid()}"


def _port_block() -> range:
    """The ports this process hands out. Below Linux's ephemeral range (32768 and up),
    so no process's outgoing socket is given one between our check and its use (a
    phone's port is free for a moment between two sipp runs), and below the test PBXs'
    RTP ports (20000 and up); one block per pytest-xdist worker, so two workers never
    hand out the same port."""
    low, high = 10_000, 20_000
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or "1"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % count if worker.isdigit() else 0
    size = (high - low) // count
    return range(low + index * size, low + (index + 1) * size)


_PORTS = _port_block()
_next_port = random.Random(os.getpid()).randrange(len(_PORTS))


def free_port(*, udp_too: bool = False) -> int:
    """A port free for TCP (and UDP when asked) on 127.0.0.1 right now, from this
    process's block, in turn: not handed out again before the whole block was."""
    global _next_port
    for _ in range(len(_PORTS)):
        port = _PORTS[_next_port % len(_PORTS)]
        _next_port += 1
        kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp_too else (socket.SOCK_STREAM,)
        if all(_bindable(kind, port) for kind in kinds):
            return port
    raise RuntimeError("no free port found")


def _bindable(kind: int, port: int) -> bool:
    probe = socket.socket(socket.AF_INET, kind)
    try:
        probe.bind((HOST, port))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class PbxProcess:
    def __init__(
        self, data_dir: Path, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.args = args or []
        self.http_port = free_port()
        self.sip_port = free_port(udp_too=True)
        self.tcp_event_port = free_port()
        self.env = {
            **os.environ,
            "KILOPBX_DATA_DIR": str(data_dir),
            "KILOPBX_BIND": HOST,
            "KILOPBX_HTTP_PORT": str(self.http_port),
            "KILOPBX_SIP_PORT": str(self.sip_port),
            "KILOPBX_TCP_EVENT_PORT": str(self.tcp_event_port),
            "KILOPBX_API_USERNAME": API_USER,
            "KILOPBX_API_PASSWORD": API_PASSWORD,
            "KILOPBX_EVENT_RETRY_MAX": "1",
            "KILOPBX_LOG_LEVEL": "INFO",
            "KILOPBX_MEDIA_WORKERS": "1",  # one worker process is plenty for a test
            # system prompts are spoken once per machine, then copied into each data dir
            "KILOPBX_PROMPTS_SEED": str(PROMPTS_SEED),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-pbx.log"

    # -- process control -------------------------------------------------------------------

    def start(self) -> PbxProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kilopbx.cli", "serve", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kilopbx exited early:\n{self.log_tail()}")
            if b"KiloPBX serving" in self.log_path.read_bytes()[offset:]:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"kilopbx did not start in time:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    def restart(self) -> PbxProcess:
        self.stop()
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- HTTP ------------------------------------------------------------------------------

    def http(
        self,
        path: str,
        *,
        method: str = "POST",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        source_ip: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """`source_ip` (another 127.x address) plays a second host."""
        source = (source_ip, 0) if source_ip else None
        conn = http.client.HTTPConnection(
            HOST, self.http_port, timeout=timeout, source_address=source
        )
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def api(
        self,
        endpoint: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        method: str = "POST",
    ) -> dict[str, Any]:
        path = f"/api/v2.0.0/{endpoint}"
        if token is not None:
            path += f"?token={token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        status, _headers, payload = self.http(
            path, method=method, body=data, headers={"Content-Type": "application/json"}
        )
        assert status == 200, (status, payload[:200])
        return json.loads(payload)

    def login_legacy(self, **fields: Any) -> str:
        """Log in the way old integrations do: no `version`, so legacy event reports."""
        body = {"username": API_USER, "password": md5(API_PASSWORD), **fields}
        answer = self.api("login", body)
        assert answer["status"] == "Success", answer
        return str(answer["token"])

    def login(self, **fields: Any) -> str:
        body = {"username": API_USER, "password": md5(API_PASSWORD), "version": "2.0.0"}
        body.update(fields)
        answer = self.api("login", body)
        assert answer["status"] == "Success", answer
        return str(answer["token"])


class EventReceiver:
    """A real HTTP server that records the events POSTed to it; can be stopped and started
    again on the same port to play a receiver that is down for a while."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.events: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []  # as received: legacy reports may repeat keys
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EventReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._cond:
                    receiver.requests.append((self.path, dict(self.headers)))
                    receiver.events.append(json.loads(body))
                    receiver.bodies.append(body)
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        ThreadingHTTPServer.request_queue_size = 128  # bursts of events open many connections
        self._server = ThreadingHTTPServer((HOST, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
        """Wait until predicate(events) is true; return the events."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out; events so far: {self.events}")
                self._cond.wait(remaining)
            return list(self.events)

    def named(self, name: str) -> list[dict[str, Any]]:
        with self._cond:
            return [e for e in self.events if e.get("event", e.get("action")) == name]


def child_processes(pid: int, marker: bytes) -> list[int]:
    """Process ids of ``pid``'s children whose command line contains ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rpartition(")")[2].split()[1]) == pid and marker in command:
            found.append(int(entry.name))
    return found


def media_workers(pbx: PbxProcess) -> list[int]:
    """Process ids of the PBX's media workers (its children running the worker)."""
    assert pbx.proc is not None
    return child_processes(pbx.proc.pid, b"kilopbx.media.worker")
