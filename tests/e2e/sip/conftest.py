"""Fixtures: a real SipStack on 127.0.0.1 (UDP and TCP on one port) and a UDP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kilopbx.sip.stack import SipStack
from kilopbx.sip.timers import TimerConfig
from kilopbx.sip.transport import TransportLimits
from tests.e2e.sip.dialog_helpers import Callee, running
from tests.e2e.sip.helpers import (
    HOST,
    RecordingHandler,
    UdpClient,
)


@pytest.fixture
async def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
async def stack(handler: RecordingHandler) -> AsyncIterator[SipStack]:
    sip = SipStack(
        handler,
        timers=TimerConfig(t1=0.05, t2=0.4, t4=0.5),
        limits=TransportLimits(max_message_size=8192, idle_timeout=30.0),
    )
    await sip.start(HOST, 0)
    yield sip
    await sip.stop()


@pytest.fixture
async def udp(stack: SipStack) -> AsyncIterator[UdpClient]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(
        UdpClient, remote_addr=(HOST, stack.port)
    )
    yield client
    transport.close()


@pytest.fixture
async def callee() -> AsyncIterator[tuple[Callee, SipStack]]:
    """A stack whose handler rings and answers every INVITE (see dialog_helpers)."""
    handler = Callee()
    async with running(handler) as stack:
        yield handler, stack
