"""On a PBX of its own (RTP timeout 2 s, call waiting off): a call whose phones send
no RTP is hung up with a BYE to each side, and while it lasts a second call to the
talking extension is busy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import answer, call, register, unregister
from tests.e2e.calls.sip_client import Caller
from tests.harness import PbxProcess, free_port

pytestmark = pytest.mark.peers


@pytest.fixture(scope="module")
def quiet_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PbxProcess]:
    env = {"KILOPBX_CALL_RTP_TIMEOUT": "2", "KILOPBX_CALL_CALL_WAITING": "false"}
    yield from call_pbx_with(tmp_path_factory, env)


def wait_until_busy(pbx: PbxProcess, number: str) -> None:
    token = pbx.login()
    deadline = time.monotonic() + 10
    while True:
        listing = pbx.api("extension/list", {}, token=token)["extlist"]
        if {e["number"]: e["status"] for e in listing}[number] == "Busy":
            return
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_call_without_rtp_is_hung_up(quiet_pbx: PbxProcess, workdir: Path) -> None:
    port = free_port(udp_too=True)
    register(quiet_pbx, "2002", port, workdir)
    try:
        callee = answer(quiet_pbx, port, workdir)
        try:
            started = time.monotonic()
            caller = call(quiet_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
            wait_until_busy(quiet_pbx, "2002")
            second = Caller(quiet_pbx, "2003")
            try:
                assert second.invite("2002").status == 486  # no call waiting
            finally:
                second.close()
            caller.finish()
            callee.finish()  # nobody sent a packet: the PBX sent both a BYE
            assert 2.0 <= time.monotonic() - started < 10
        finally:
            callee.kill()
    finally:
        unregister(quiet_pbx, "2002", port, workdir)


def test_stopping_the_pbx_hangs_its_calls_up(quiet_pbx: PbxProcess, workdir: Path) -> None:
    """Last in this module: it stops the module's PBX."""
    port = free_port(udp_too=True)
    register(quiet_pbx, "2002", port, workdir)
    callee = answer(quiet_pbx, port, workdir)
    try:
        caller = call(quiet_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
        wait_until_busy(quiet_pbx, "2002")
        quiet_pbx.stop()
        caller.finish()  # a BYE from the PBX on its way out
        callee.finish()
    finally:
        callee.kill()
