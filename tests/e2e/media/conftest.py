"""A real media pool (worker processes on uvloop) and fake phones on 127.0.0.1 sockets."""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kilopbx.config import PortRange
from kilopbx.media.control import Notification
from kilopbx.media.pool import MediaPool
from kilopbx.media.rtp import RtpPacket, build_rtp, parse_rtp
from tests.e2e.sip.helpers import UdpClient

HOST = "127.0.0.1"
WAIT = 5.0  # generous: the machine is shared, and a wait ends as soon as data arrives


class Phone(UdpClient):
    """One UDP socket that sends RTP to the worker's ports and queues what comes back."""

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return host, port

    def send_to(self, port: int, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data, (HOST, port))

    def send_rtp(self, port: int, pt: int, seq: int, ts: int, ssrc: int, payload: bytes) -> None:
        self.send_to(port, build_rtp(pt, False, seq, ts, ssrc, payload))

    async def receive(self, timeout: float = WAIT) -> bytes:
        return await asyncio.wait_for(self.received.get(), timeout)

    async def receive_rtp(self, count: int, timeout: float = WAIT) -> list[RtpPacket]:
        return [parse_rtp(await self.receive(timeout)) for _ in range(count)]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@pytest.fixture
async def make_phone() -> AsyncIterator[Callable[[], Awaitable[Phone]]]:
    phones: list[Phone] = []
    loop = asyncio.get_running_loop()

    async def make() -> Phone:
        _, phone = await loop.create_datagram_endpoint(Phone, local_addr=(HOST, 0))
        phones.append(phone)
        return phone

    yield make
    for phone in phones:
        phone.close()


class PoolEvents:
    def __init__(self) -> None:
        self.notifications: asyncio.Queue[Notification] = asyncio.Queue()
        self.lost: asyncio.Queue[tuple[int, set[str]]] = asyncio.Queue()


def port_slice() -> PortRange:
    """A random slice below the ephemeral ports the phones bind, so that a phone's RTP + 1
    (where the worker sends RTCP) is never a worker port, and parallel runs rarely meet."""
    low = random.randrange(12000, 19000, 2)
    return PortRange(low, low + 399)


@pytest.fixture
async def events() -> PoolEvents:
    return PoolEvents()


@pytest.fixture
async def pool(tmp_path: Path, events: PoolEvents) -> AsyncIterator[MediaPool]:
    media = MediaPool(
        2,
        port_slice(),
        bind=HOST,
        socket_dir=tmp_path,
        on_lost=lambda index, ids: events.lost.put_nowait((index, ids)),
        on_notification=lambda index, note: events.notifications.put_nowait(note),
        linger=5.0,
    )
    await asyncio.wait_for(media.start(), 15)
    yield media
    await media.close()


async def start_worker(sock: Path, linger: float = 5.0) -> asyncio.subprocess.Process:
    """A worker started by hand, so that a test can be its controller (or walk away)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kilopbx.media.worker", "--socket", str(sock),
        "--ports", str(port_slice()), "--bind", HOST, "--linger", str(linger),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 10) == b"ready\n"
    return process
