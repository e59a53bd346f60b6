"""Caller ID on internal calls: the callee's phone is shown the calling extension's
number and name (from the directory, whatever the caller's own From says), not the
extension's outside caller ID (``callerid``), which only trunk calls use."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.calls.peers import answer, wait_bound
from tests.e2e.calls.sip_client import Caller
from tests.e2e.calls.test_extension_behaviour import registered
from tests.harness import PbxProcess

pytestmark = pytest.mark.peers


def invite_seen_by_callee(workdir: Path) -> str:
    """The INVITE the callee's sipp got, from its message log."""
    logs = sorted(workdir.glob("uas_busy_*_messages.log"))
    assert logs, list(workdir.iterdir())
    text = logs[-1].read_text(errors="replace")
    invites = [part for part in text.split("\n\n") if "INVITE sip:" in part]
    assert invites, text[-2000:]
    return invites[-1][invites[-1].index("INVITE sip:") :]


def header(message: str, name: str) -> str:
    for line in message.splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name} in {message[:500]}")


def test_internal_call_shows_the_callers_extension_number_and_name(
    call_pbx: PbxProcess, workdir: Path
) -> None:
    token = call_pbx.login()
    changed = {"number": "2001", "username": "Front Desk", "callerid": "4402777"}
    assert call_pbx.api("extension/update", changed, token=token)["status"] == "Success"
    try:
        with registered(call_pbx, "2002", workdir) as port:
            callee = answer(call_pbx, port, workdir, scenario="uas_busy.xml", extra=["-trace_msg"])
            caller = Caller(call_pbx, "2001")  # its own From carries no name
            try:
                wait_bound(port)
                assert caller.invite("2002").status == 486
                callee.finish()
            finally:
                caller.close()
                callee.kill()
        invite = invite_seen_by_callee(workdir)
        shown = header(invite, "From")
        assert shown.startswith('"Front Desk" <sip:2001@'), shown
        assert "4402777" not in invite  # the outside caller ID stays for trunk calls
    finally:
        reset = {"number": "2001", "username": "User 2001", "callerid": "2001"}
        call_pbx.api("extension/update", reset, token=token)
