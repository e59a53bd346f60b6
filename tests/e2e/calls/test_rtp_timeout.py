"""A call whose phones send no RTP is hung up after the RTP timeout (here 1 s, on a
PBX of its own), with a BYE to each side."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import answer, call, register, unregister
from tests.harness import PbxProcess, free_port

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def quiet_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    yield from call_pbx_with(tmp_path_factory, {"KILOPBX_CALL_RTP_TIMEOUT": "1"})


def test_a_call_without_rtp_is_hung_up(quiet_pbx: PbxProcess, workdir: Path) -> None:
    port = free_port(udp_too=True)
    register(quiet_pbx, "2002", port, workdir)
    try:
        callee = answer(quiet_pbx, port, workdir)
        try:
            started = time.monotonic()
            call(quiet_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml").finish()
            callee.finish()  # nobody sent a packet: the PBX sent both a BYE
            assert 1.0 <= time.monotonic() - started < 10
        finally:
            callee.kill()
    finally:
        unregister(quiet_pbx, "2002", port, workdir)
