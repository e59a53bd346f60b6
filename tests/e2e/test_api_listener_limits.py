"""Attacks on the API port's connection slots, against a running PBX with small limits:
silent and trickling connections are evicted or cut off, bursts from a real client are
served, other clients are answered within a second, descriptors stay within budget."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.socket_helpers import closed_by_peer
from tests.harness import PbxProcess

MAX_CONNECTIONS, PER_ADDRESS = 40, 6
LIMITS = {
    "KILOPBX_API_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "KILOPBX_API_MAX_WAITING_PER_ADDRESS": str(PER_ADDRESS),
    "KILOPBX_API_REQUEST_TIMEOUT": "3",
}
GRACE = 1.0  # a waiting connection younger than this is not evicted for its address


@pytest.fixture
def limited_pbx(make_pbx: Callable[..., PbxProcess]) -> PbxProcess:
    return make_pbx(LIMITS)


def _connect(pbx: PbxProcess, source: str) -> socket.socket:
    return socket.create_connection(
        ("127.0.0.1", pbx.http_port), timeout=3, source_address=(source, 0)
    )


def _wait_closed(socks: list[socket.socket], timeout: float) -> set[socket.socket]:
    closed: set[socket.socket] = set()
    deadline = time.monotonic() + timeout
    while len(closed) < len(socks) and time.monotonic() < deadline:
        readable, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.05)
        closed.update(s for s in readable if closed_by_peer(s))
    return closed


@contextlib.contextmanager
def held(socks: list[socket.socket]) -> Iterator[list[socket.socket]]:
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _timed_call(pbx: PbxProcess, token: str) -> float:
    started = time.monotonic()
    assert pbx.api("deviceinfo/query", token=token)["status"] == "Success"
    return time.monotonic() - started


def _open_fds(pbx: PbxProcess) -> int:
    assert pbx.proc is not None
    return len(os.listdir(f"/proc/{pbx.proc.pid}/fd"))


def test_burst_from_one_client_is_served(limited_pbx: PbxProcess) -> None:
    """More concurrent requests than the per-address limit, connected first and written
    a moment later (a slow client): every one is answered."""
    token = limited_pbx.login()
    request = (
        f"POST /api/v2.0.0/deviceinfo/query?token={token} HTTP/1.1\r\n"
        "Host: x\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    with held([_connect(limited_pbx, "127.0.2.1") for _ in range(4 * PER_ADDRESS)]) as socks:
        time.sleep(0.3)
        for sock in socks:
            sock.sendall(request)
        for sock in socks:
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200") and b'"Success"' in answer


def test_silent_connections_evict_themselves_not_the_newcomer(limited_pbx: PbxProcess) -> None:
    token = limited_pbx.login()
    fds_before = _open_fds(limited_pbx)
    with held([_connect(limited_pbx, "127.0.2.9") for _ in range(PER_ADDRESS)]) as old:
        time.sleep(GRACE + 0.2)
        with held([_connect(limited_pbx, "127.0.2.9") for _ in range(3)]) as new:
            # the three oldest silent connections of that address made room
            assert len(_wait_closed(old, 0.3)) == 3
            assert not any(closed_by_peer(s) for s in new)
            # 8 addresses x 10 silent connections > the budget of 40: still answered
            flood = [_connect(limited_pbx, f"127.0.2.{20 + n % 8}") for n in range(80)]
            with held(flood):
                time.sleep(0.2)
                assert max(_timed_call(limited_pbx, token) for _ in range(5)) < 1.0
                assert _open_fds(limited_pbx) <= fds_before + MAX_CONNECTIONS + 2


def test_trickled_request_is_cut_at_the_deadline(limited_pbx: PbxProcess) -> None:
    """Slowloris after the first byte: a byte every 0.2 s never completes the headers."""
    token = limited_pbx.login()
    line = b"POST /api/v2.0.0/deviceinfo/query?token=" + b"x" * 200
    with held([_connect(limited_pbx, "127.0.2.40") for _ in range(PER_ADDRESS)]) as socks:
        started = time.monotonic()
        for index in range(len(line)):
            if all(closed_by_peer(s) for s in socks) or time.monotonic() - started > 6:
                break
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.send(line[index : index + 1])
            assert _timed_call(limited_pbx, token) < 1.0
            time.sleep(0.2)
        assert all(closed_by_peer(s) for s in socks)
        assert time.monotonic() - started < 4.5  # the 3 s request deadline and a sweep


def test_open_files_soft_limit_is_raised_at_start(make_pbx: Callable[..., PbxProcess]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # low, yet with room for what this test process has open already
    lowered = max(1024, len(os.listdir("/proc/self/fd")) + 256)
    if hard == resource.RLIM_INFINITY or hard <= lowered:
        pytest.skip("needs a finite hard limit above the lowered one")
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))  # inherited by the PBX
    try:
        pbx = make_pbx()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert pbx.proc is not None
    limits = open(f"/proc/{pbx.proc.pid}/limits").read()  # noqa: SIM115
    row = next(line for line in limits.splitlines() if line.startswith("Max open files"))
    assert row.split()[3:5] == [str(hard), str(hard)]
    with ThreadPoolExecutor(4) as pool:  # and it serves as usual
        assert all(t == "Success" for t in pool.map(lambda _: _status(pbx), range(8)))


def _status(pbx: PbxProcess) -> str:
    return str(pbx.api("deviceinfo/query", token=pbx.login())["status"])
