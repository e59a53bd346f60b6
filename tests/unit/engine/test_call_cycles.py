"""An ended call is freed by reference counting: its media and members parts refer
back to it weakly, and nothing else it holds points back at it. Before, every call
(~215 objects with its dialogs, messages and media state) waited in reference cycles
for the cyclic collector, whose collections then cost the signalling process ~5 % of
its time at 300 calls/s.

The call runs on the real engine, runtime, B2BUA machine and reporter of
``test_answer_order`` (the caller's leg, the callee's phone and the media worker are
stand-ins), with the cyclic collector off: what is not freed by reference counting
stays, and its weak reference stays alive."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from kilopbx.engine.b2bua import BranchAnswered
from tests.unit.engine.test_answer_order import Pbx, until


@pytest.fixture(autouse=True)
def no_cyclic_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_an_answered_then_ended_call_is_freed_at_once() -> None:
    pbx = Pbx()
    await pbx.ring()
    pbx.call.feed(BranchAnswered(pbx.call.branch))
    await asyncio.wait_for(pbx.pool.recording_asked.wait(), 5.0)
    pbx.pool.recording_gate.set()
    await until(lambda: pbx.call.media_apps.recording is not None)
    await pbx.end()
    assert pbx.leg.answered is not None and pbx.leg.dialog.byes == 1
    call = weakref.ref(pbx.call)
    parts = weakref.ref(pbx.call.media_apps), weakref.ref(pbx.call.members)
    pbx.call = pbx.task = None  # type: ignore[assignment]  # what held it (the stand-in PBX itself is a cycle)
    assert call() is None
    assert [part() for part in parts] == [None, None]


async def test_a_call_ended_while_ringing_is_freed_at_once() -> None:
    pbx = Pbx()
    await pbx.ring()
    await pbx.end()
    assert pbx.leg.rejected  # the caller got its final answer
    call = weakref.ref(pbx.call)
    pbx.call = pbx.task = None  # type: ignore[assignment]
    assert call() is None
