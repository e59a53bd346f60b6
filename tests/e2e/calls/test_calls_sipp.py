"""Calls between registered extensions through `kilopbx serve`, with sipp as both
phones: the caller authenticates with digest (407), the callee is found through its
registration, media is anchored in a worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.peers import Sipp, call, register, start, unregister
from tests.harness import PbxProcess, free_port

pytestmark = pytest.mark.peers


@pytest.fixture
def callee_port(call_pbx: PbxProcess, workdir: Path) -> Iterator[int]:
    """2002 registered from this port for the test, unregistered after."""
    port = free_port(udp_too=True)
    register(call_pbx, "2002", port, workdir)
    yield port
    unregister(call_pbx, "2002", port, workdir)


def answer(pbx: PbxProcess, port: int, workdir: Path, pts: str = "0") -> Sipp:
    return start(pbx, "uas_answer.xml", workdir, port=port, variables={"pts": pts})


def test_call_answered_and_hung_up_by_caller(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    callee = answer(call_pbx, callee_port, workdir)
    try:
        call(call_pbx, "2001", "2002", workdir).finish()
        callee.finish()
    finally:
        callee.kill()
