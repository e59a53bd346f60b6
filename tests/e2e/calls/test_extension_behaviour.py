"""What an extension's settings do to calls: DND, forwarding on busy and on no answer
after its own ring timeout, the longest a call may last (sipp phones, one shared PBX)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import answer, call, register, unregister
from tests.e2e.calls.sip_client import Caller
from tests.harness import PbxProcess, free_port

pytestmark = pytest.mark.peers


@contextmanager
def settings(pbx: PbxProcess, number: str, **changes: Any) -> Iterator[None]:
    token = pbx.login()
    answer_ = pbx.api("extension/update", {"number": number, **changes}, token=token)
    assert answer_["status"] == "Success", answer_
    try:
        yield
    finally:
        reset = {"dnd": "off", "busyforward": "off", "noanswerforward": "off"}
        reset |= {"ringtimeout": "30", "maxduration": "Follow System"}
        pbx.api("extension/update", {"number": number, **reset}, token=token)


@contextmanager
def registered(pbx: PbxProcess, number: str, workdir: Path) -> Iterator[int]:
    port = free_port(udp_too=True)
    register(pbx, number, port, workdir)
    try:
        yield port
    finally:
        unregister(pbx, number, port, workdir)


def test_dnd_is_busy_and_busy_forwarding_follows_it(call_pbx: PbxProcess, workdir: Path) -> None:
    with settings(call_pbx, "2002", dnd="on"):
        caller = Caller(call_pbx, "2001")
        try:
            assert caller.invite("2002").status == 486
        finally:
            caller.close()
    forward = {"dnd": "on", "busyforward": "on", "btransferto": "Extension"}
    with (
        settings(call_pbx, "2002", **forward, btransferext="2003"),
        registered(call_pbx, "2003", workdir) as port,
    ):
        callee = answer(call_pbx, port, workdir)
        try:
            call(call_pbx, "2001", "2002", workdir).finish()
            callee.finish()
        finally:
            callee.kill()


def test_no_answer_after_ring_timeout_forwards(call_pbx: PbxProcess, workdir: Path) -> None:
    forward = {"ringtimeout": "5", "noanswerforward": "on", "ntransferto": "Extension"}
    with (
        settings(call_pbx, "2002", **forward, ntransferext="2003"),
        registered(call_pbx, "2002", workdir) as ringing_port,
        registered(call_pbx, "2003", workdir) as answering_port,
    ):
        ringing = answer(call_pbx, ringing_port, workdir, scenario="uas_ring.xml")
        answering = answer(call_pbx, answering_port, workdir)
        try:
            call(call_pbx, "2001", "2002", workdir).finish()
            ringing.finish()  # cancelled after its 5 s
            answering.finish()
        finally:
            ringing.kill()
            answering.kill()


def test_max_call_duration_hangs_up_both_sides(call_pbx: PbxProcess, workdir: Path) -> None:
    with (
        settings(call_pbx, "2001", maxduration="1"),
        registered(call_pbx, "2002", workdir) as port,
    ):
        callee = answer(call_pbx, port, workdir)
        try:
            started = time.monotonic()
            call(call_pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml").finish()
            callee.finish()  # both got the PBX's BYE
            assert time.monotonic() - started < 10
        finally:
            callee.kill()


def test_call_waiting_off_for_one_extension_makes_it_busy(
    call_pbx: PbxProcess, workdir: Path
) -> None:
    """The PBX-wide default rings a talking extension again; an extension with call
    waiting off is busy for a second call instead (KiloPBX extension/callwaiting/*)."""
    token = call_pbx.login()
    for body, errno in (
        ({"number": "2002"}, "10004"),
        ({"number": "2002", "callwaiting": "maybe"}, "10017"),
        ({"number": "9999", "callwaiting": "off"}, "10006"),
        ({"number": "", "callwaiting": "off"}, "10004"),
    ):
        refused = call_pbx.api("extension/callwaiting/update", body, token=token)
        assert (refused["status"], refused["errno"]) == ("Failed", errno), (body, refused)
    update = {"number": "2002", "callwaiting": "off"}
    assert call_pbx.api("extension/callwaiting/update", update, token=token)["status"] == "Success"
    listing = call_pbx.api("extension/callwaiting/query", {}, token=token)
    assert (listing["on"], listing["off"], listing["default"]) == ("", "2002", "2001,2003")
    try:
        with registered(call_pbx, "2002", workdir) as port:
            callee = answer(call_pbx, port, workdir)
            try:
                caller = call(call_pbx, "2001", "2002", workdir, talk_ms=4000)
                _wait_until_busy(call_pbx, "2002")
                second = Caller(call_pbx, "2003")
                try:
                    assert second.invite("2002").status == 486
                finally:
                    second.close()
                caller.finish()
                callee.finish()
            finally:
                callee.kill()
    finally:
        update = {"number": "all", "callwaiting": "default"}
        assert call_pbx.api("extension/callwaiting/update", update, token=token)["status"] == (
            "Success"
        )


def _wait_until_busy(pbx: PbxProcess, number: str) -> None:
    token = pbx.login()
    deadline = time.monotonic() + 10
    while True:
        listing = pbx.api("extension/list", {}, token=token)["extlist"]
        if {e["number"]: e["status"] for e in listing}[number] == "Busy":
            return
        assert time.monotonic() < deadline, listing
        time.sleep(0.05)
