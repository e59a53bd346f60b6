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
