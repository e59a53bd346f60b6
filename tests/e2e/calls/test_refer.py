"""REFER from a phone, byte by byte: a bare UDP phone (2001) talks to a sipp callee
(2002) and sends REFERs. Malformed, hostile or impossible ones are refused with the
right status and change nothing; a good one gets 202, two NOTIFYs with sipfrag
progress and a BYE, and the target (a bare socket registered as 2003) is rung with
``Referred-By`` naming the transferor."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.dialog_phone import TalkingCaller, ok
from tests.e2e.calls.peers import answer, register, unregister
from tests.harness import HOST, PbxProcess, free_port

pytestmark = pytest.mark.peers


def members(pbx: PbxProcess, token: str) -> list[Any]:
    calls = pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
    return [(m["ext"]["number"], m["ext"]["memberstatus"]) for c in calls for m in c["members"]]


def test_refer_refusals_and_a_transfer_with_progress(
    call_pbx: PbxProcess, callee_port: int, workdir: Path
) -> None:
    token = call_pbx.login()
    target_port = free_port(udp_too=True)
    target_dir = workdir / "target"
    target_dir.mkdir()
    register(call_pbx, "2003", target_port, target_dir)
    uas = answer(call_pbx, callee_port, workdir)
    phone = TalkingCaller(call_pbx, "2001")
    try:
        phone.establish("2002")
        deadline = time.monotonic() + 10
        while members(call_pbx, token) != [("2001", "ANSWERED"), ("2002", "ANSWER")]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        here = f"{HOST}:{call_pbx.sip_port}"
        refusals = {
            "": 400,  # no Refer-To
            "Refer-To: <<<\r\n": 400,
            "Refer-To: tel:+41215550199\r\n": 400,
            f"Refer-To: <sip:2003@{here}?Replaces=abc%3Bto-tag%3Dx>\r\n": 400,  # no from-tag
            f"Refer-To: <sip:2003@{here}>\r\nRefer-To: <sip:2003@{here}>\r\n": 400,
            f"Refer-To: <sip:{'9' * 2000}@{here}>\r\n": 400,
            f"Refer-To: <sip:2999@{here}>\r\n": 404,
            f"Refer-To: <sip:{'2' * 40}@{here}>\r\n": 404,
            f"Refer-To: <sip:%2A97@{here}>\r\n": 404,
        }
        for headers, status in refusals.items():
            assert phone.in_dialog("REFER", headers).status == status, headers
        assert members(call_pbx, token) == [("2001", "ANSWERED"), ("2002", "ANSWER")]

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as target:
            target.bind((HOST, target_port))  # where 2003 registered from
            target.settimeout(10)
            accepted = phone.in_dialog("REFER", f"Refer-To: <sip:2003@{here}>\r\n")
            assert accepted.status == 202
            fragments = []
            for _ in range(2):
                notify = phone.next_request()
                assert notify.method == "NOTIFY" and notify.headers.get("Event") == "refer"
                assert (notify.headers.get("Content-Type") or "").startswith("message/sipfrag")
                fragments.append((notify.body.strip(), notify.headers.get("Subscription-State")))
            assert fragments[0][0] == b"SIP/2.0 100 Trying"
            assert fragments[1][0] == b"SIP/2.0 200 OK"
            assert (fragments[1][1] or "").startswith("terminated")
            assert phone.next_request().method == "BYE"  # the transferor is released
            invite = parse_message(target.recv(65535))
            assert isinstance(invite, SipRequest) and invite.method == "INVITE"
            assert "sip:2001@" in (invite.headers.get("Referred-By") or "")
            busy = ok(invite).replace(b"200 OK", b"486 Busy Here")
            target.sendto(busy, (HOST, call_pbx.sip_port))
        uas.finish()  # the target was busy: the kept party got a BYE
    finally:
        uas.kill()
        phone.close()
        unregister(call_pbx, "2003", target_port, target_dir)
    deadline = time.monotonic() + 10
    while members(call_pbx, token):
        assert time.monotonic() < deadline
        time.sleep(0.05)
