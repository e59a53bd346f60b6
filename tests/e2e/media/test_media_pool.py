"""The pool replaces a worker killed with SIGKILL and reports the endpoints it lost."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kilopbx.media.control import Notification, Play
from kilopbx.media.pool import MediaError, MediaPool, WorkerLost

from .conftest import Phone, PoolEvents, port_slice, start_worker

ULAW = [(0, "PCMU")]


async def test_killed_worker_is_restarted_and_its_endpoints_reported(
    pool: MediaPool, events: PoolEvents, make_phone: Callable[[], Awaitable[Phone]]
) -> None:
    a, b = await make_phone(), await make_phone()
    doomed = [await pool.create_endpoint(ULAW, a.address) for _ in range(4)]
    on_zero = {ref.id for ref in doomed if ref.worker == 0}
    assert {ref.worker for ref in doomed} == {0, 1}  # spread over both workers
    old_pid = pool.pid(0)
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    index, lost = await asyncio.wait_for(events.lost.get(), 5)
    assert (index, lost) == (0, on_zero)
    for _ in range(100):  # bounded: the restart takes a few hundred ms
        if pool.pid(0) != old_pid and (await _alive(pool, 0)):
            break
        await asyncio.sleep(0.05)
    assert pool.pid(0) != old_pid
    # the survivors on worker 1 are untouched; new calls work on the new worker 0
    survivor = next(ref for ref in doomed if ref.worker == 1)
    assert (await pool.stats(survivor))["endpoint"] == survivor.id
    ea = await pool.create_endpoint(ULAW, a.address)
    eb = await pool.create_endpoint(ULAW, b.address, near=ea)
    await pool.bridge(ea, eb)
    a.send_rtp(ea.port, 0, 1, 160, 0x1, b"\x11" * 160)
    assert bytes((await b.receive_rtp(1))[0].payload) == b"\x11" * 160


async def _alive(pool: MediaPool, index: int) -> bool:
    try:
        await pool.worker_stats(index)
    except WorkerLost:
        return False
    return True


async def test_errors_are_raised_with_their_code(pool: MediaPool) -> None:
    a = await pool.create_endpoint(ULAW)
    b = await pool.create_endpoint(ULAW)
    if a.worker != b.worker:
        with pytest.raises(MediaError, match="one worker"):
            await pool.bridge(a, b)
    with pytest.raises(MediaError) as info:
        await pool.send_dtmf(a, "1")
    assert info.value.code == "conflict"  # no telephone-event negotiated
    with pytest.raises(MediaError) as info:
        await pool.request(a.worker, Play, endpoint=a.id, source="prompt:welcome")
    assert info.value.code == "bad_request"  # names are resolved to files by the signalling side
    stats = await pool.delete_endpoint(a)
    assert stats["endpoint"] == a.id
    with pytest.raises(MediaError) as info:
        await pool.delete_endpoint(a)
    assert info.value.code == "not_found"


async def test_a_stuck_worker_costs_a_timeout_not_a_hang(tmp_path: Path) -> None:
    stuck = MediaPool(1, port_slice(), bind="127.0.0.1", socket_dir=tmp_path, command_timeout=0.5)
    await asyncio.wait_for(stuck.start(), 15)
    pid = stuck.pid(0)
    assert pid is not None
    try:
        os.kill(pid, signal.SIGSTOP)
        with pytest.raises(MediaError) as info:
            await stuck.create_endpoint(ULAW)
        assert info.value.code == "timeout"
        os.kill(pid, signal.SIGCONT)
        # the late answer to the abandoned command is dropped; the next one is answered
        assert (await stuck.worker_stats(0))["worker"] == 0
    finally:
        os.kill(pid, signal.SIGCONT)
        await stuck.close()


async def test_an_orphaned_worker_exits_after_its_linger(tmp_path: Path) -> None:
    sock = tmp_path / "w.sock"
    process = await start_worker(sock, linger=0.3)
    _, writer = await asyncio.open_unix_connection(str(sock))
    writer.close()  # the supervisor is gone; nobody reconnects
    assert await asyncio.wait_for(process.wait(), 5) == 0
    assert not sock.exists()


async def test_a_failing_notification_handler_is_not_a_dead_worker(tmp_path: Path) -> None:
    seen: list[str] = []
    lost: list[int] = []

    def handler(index: int, note: Notification) -> None:
        seen.append(note.event)
        raise RuntimeError("engine bug")

    media = MediaPool(
        1, port_slice(), bind="127.0.0.1", socket_dir=tmp_path,
        on_notification=handler, on_lost=lambda index, ids: lost.append(index),
    )  # fmt: skip
    await asyncio.wait_for(media.start(), 15)
    try:
        await media.create_endpoint(ULAW, rtp_timeout=0.1)
        for _ in range(100):  # bounded: the worker's timer ticks every 0.2 s
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == ["rtp_timeout"]
        assert (await media.worker_stats(0))["worker"] == 0 and lost == []
    finally:
        await media.close()


async def test_commands_sent_in_one_loop_iteration_keep_their_order_and_answers(
    pool: MediaPool, make_phone: Callable[[], Awaitable[Phone]]
) -> None:
    # a call's connect step: modify, modify, bridge, then deletes, each batch written
    # to the worker in one go and answered in one go; the worker runs them in order
    a, b = await make_phone(), await make_phone()
    ea = await pool.create_endpoint(ULAW)
    eb = await pool.create_endpoint(ULAW, near=ea)
    await asyncio.wait_for(
        asyncio.gather(
            pool.modify_endpoint(ea, remote={"host": a.address[0], "port": a.address[1]}),
            pool.modify_endpoint(eb, remote={"host": b.address[0], "port": b.address[1]}),
            pool.bridge(ea, eb),
        ),
        5,
    )
    a.send_rtp(ea.port, 0, 1, 160, 0x1, b"\x22" * 160)
    assert bytes((await b.receive_rtp(1))[0].payload) == b"\x22" * 160
    # the second delete of the same endpoint comes after the first: not_found
    first, second = await asyncio.wait_for(
        asyncio.gather(pool.delete_endpoint(ea), pool.delete_endpoint(ea), return_exceptions=True),
        5,
    )
    assert isinstance(first, dict) and first["endpoint"] == ea.id
    assert isinstance(second, MediaError) and second.code == "not_found"
    await pool.delete_endpoint(eb)
