"""Hostile input to a worker: garbage datagrams are counted, bad control messages answered."""

from __future__ import annotations

import asyncio
import json
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kilopbx.media import control as c
from kilopbx.media.pool import MediaPool
from kilopbx.media.rtp import build_rtp

from .conftest import WAIT, Phone, start_worker

ULAW = [(0, "PCMU")]


async def test_garbage_datagrams_are_dropped_and_counted(
    pool: MediaPool, make_phone: Callable[[], Awaitable[Phone]]
) -> None:
    a, b, attacker = await make_phone(), await make_phone(), await make_phone()
    ea = await pool.create_endpoint(ULAW, a.address)
    eb = await pool.create_endpoint(ULAW, b.address, near=ea)
    await pool.bridge(ea, eb)
    junk = [
        b"",
        b"\x80",
        b"\x80\x00" + b"\x00" * 9,
        b"\x00" * 100,  # version 0
        b"\x8f" + b"\x00" * 20,  # 15 CSRCs announced, not there
        b"\xa0\x00" + b"\x00" * 10 + b"\xff",  # padding longer than the packet
        b"\x41" + os.urandom(1399),  # random, but never version 2
        b"\x80\x00" + b"\x00" * 9000,  # oversized
    ]
    for data in junk:
        attacker.send_to(ea.port, data)
        attacker.send_to(ea.port + 1, data)
    # a well-formed but foreign stream: never latched, never relayed
    for i in range(3):
        attacker.send_to(ea.port, build_rtp(0, False, i * 977, i, i, b"x" * 160))
    a.send_to(ea.port, build_rtp(0, False, 1, 160, 0x1, b"ok" * 80))
    relayed = await b.receive_rtp(1)
    assert bytes(relayed[0].payload) == b"ok" * 80
    stats = await pool.stats(ea)
    assert stats["malformed"] >= 7 and stats["stray"] == 3
    assert stats["rtcp_malformed"] >= 7
    assert b.received.empty()


@pytest.fixture
async def raw_worker(tmp_path: Path) -> AsyncIterator[Path]:
    """A worker the test controls (and misbehaves toward) directly."""
    sock = tmp_path / "w.sock"
    process = await start_worker(sock)
    yield sock
    process.terminate()
    await asyncio.wait_for(process.wait(), 5)


async def _answers(reader: asyncio.StreamReader, count: int) -> list[c.Answer]:
    decoder = c.FrameDecoder()
    found: list[c.Answer] = []
    while len(found) < count:
        data = await asyncio.wait_for(reader.read(65536), WAIT)
        assert data, "worker closed the connection"
        found += [
            m for f in decoder.feed(data) if isinstance(m := c.parse_from_worker(f), c.Answer)
        ]
    return found


def _frame(body: bytes) -> bytes:
    return struct.pack("!I", len(body)) + body


async def test_malformed_control_messages_get_error_answers(raw_worker: Path) -> None:
    reader, writer = await asyncio.open_unix_connection(str(raw_worker))
    bad = [
        b"not json at all",
        json.dumps({"id": 1, "op": "no_such_op"}).encode(),
        json.dumps({"id": 2, "op": "delete_endpoint", "endpoint": "nope"}).encode(),
        json.dumps(
            {"id": 3, "op": "create_endpoint", "codecs": [{"pt": 97, "name": "opus"}]}
        ).encode(),
        json.dumps({"id": 4, "op": "play", "endpoint": "e", "source": "x"}).encode(),
        json.dumps({"id": 5, "op": "bridge", "a": "x", "b": "y"}).encode(),
    ]
    for body in bad:
        writer.write(_frame(body))
    answers = await _answers(reader, len(bad))
    assert [(a.id, a.ok, a.error) for a in answers] == [
        (None, False, c.BAD_REQUEST),
        (1, False, c.BAD_REQUEST),
        (2, False, c.NOT_FOUND),
        (3, False, c.BAD_REQUEST),
        (4, False, c.NOT_FOUND),
        (5, False, c.NOT_FOUND),
    ]
    # still serving
    writer.write(c.encode(c.QueryStats(id=6)))
    (status,) = await _answers(reader, 1)
    assert status.ok and status.result["endpoints"] == []
    # an oversized frame announcement ends the connection with an error, not a 4 GiB buffer
    writer.write(struct.pack("!I", 0xFFFFFFFF))
    (refusal,) = await _answers(reader, 1)
    assert refusal.error == c.BAD_REQUEST
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()
    # and a new controller is served
    reader, writer = await asyncio.open_unix_connection(str(raw_worker))
    writer.write(c.encode(c.QueryStats(id=7)))
    assert (await _answers(reader, 1))[0].ok
    writer.close()
