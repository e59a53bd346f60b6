"""Every sipp call flow's events, field by field and in order, in the 2.0.0 format and
in both legacy formats (plain, and 1.0.2 with its ``call`` arrays; 80-events.md,
81-events-legacy.md), and its CDR row in the downloaded file
(60-voicemail-recording-cdr.md). One PBX for the module; one receiver per format,
logged in once. What each format must look like is in ``event_fields.py``.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from tests.e2e.calls.event_fields import (
    ANSWERED_LEGACY,
    ANSWERED_V2,
    CHANNEL,
    Receivers,
    ordered,
    value,
)
from tests.e2e.calls.peers import answer, call, register, unregister, wait_bound
from tests.e2e.calls.sip_client import Caller
from tests.e2e.calls.test_extension_behaviour import settings
from tests.e2e.test_cdr import download
from tests.harness import PbxProcess, free_port

pytestmark = pytest.mark.peers

CSV_HEADER = (
    "callid,timestart,callfrom,callto,callduraction,talkduraction,srctrunkname,"
    "dsttrunkname,status,type,pincode,recording,didnumber,sn"
)


@pytest.fixture(scope="module")
def receivers(call_pbx: PbxProcess) -> Iterator[Receivers]:
    rx = Receivers(call_pbx)
    yield rx
    rx.stop()


# -- the flows ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uac", "uas", "v2", "legacy"),
    [
        (
            "uac_call.xml",
            "uas_answer.xml",
            [
                *ANSWERED_V2,
                ("CallStatus", ("2001", "BYE"), ("2002", "ANSWER")),
                ("CallStatus", ("2002", "BYE")),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
            [
                *ANSWERED_LEGACY,
                ("BYE", "2001", "2002"),
                ("BYE", "2002", "2001"),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
        ),
        (
            "uac_wait_bye.xml",
            "uas_hangup.xml",
            [
                *ANSWERED_V2,
                ("CallStatus", ("2001", "ANSWERED"), ("2002", "BYE")),
                ("CallStatus", ("2001", "BYE")),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
            [
                *ANSWERED_LEGACY,
                ("BYE", "2002", "2001"),
                ("BYE", "2001", "2002"),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
        ),
        (
            "uac_cancel.xml",
            "uas_ring.xml",
            [
                ANSWERED_V2[0],
                ("CallStatus", ("2001", "BYE"), ("2002", "RING")),
                ("CallStatus", ("2002", "BYE")),
                ("NewCdr", "2001", "2002", "NO ANSWER", "Internal"),
            ],
            [
                *ANSWERED_LEGACY[:2],
                ("BYE", "2001", "2002"),
                ("BYE", "2002", "2001"),
                ("NewCdr", "2001", "2002", "NO ANSWER", "Internal"),
            ],
        ),
        (
            "uac_busy.xml",
            "uas_busy.xml",
            [
                ANSWERED_V2[0],
                ("CallFailed", "486 Busy here", "2001"),
                ("CallStatus", ("2001", "ALERT"), ("2002", "BYE")),
                ("CallStatus", ("2001", "BYE")),
                ("NewCdr", "2001", "2002", "BUSY", "Internal"),
            ],
            [
                *ANSWERED_LEGACY[:2],
                ("CallFailed", "486 Busy here", "2001"),
                ("BYE", "2002", "2001"),
                ("BYE", "2001", "2002"),
                ("NewCdr", "2001", "2002", "BUSY", "Internal"),
            ],
        ),
        (
            "uac_hold.xml",
            "uas_answer.xml",
            [
                *ANSWERED_V2,
                ("CallStatus", ("2001", "HOLD"), ("2002", "ANSWER")),
                ("CallStatus", ("2001", "ANSWERED"), ("2002", "ANSWER")),
                ("CallStatus", ("2001", "BYE"), ("2002", "ANSWER")),
                ("CallStatus", ("2002", "BYE")),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
            [  # hold and resume produce no legacy report (81 §5.2)
                *ANSWERED_LEGACY,
                ("BYE", "2001", "2002"),
                ("BYE", "2002", "2001"),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
        ),
        (
            "uac_wait_bye.xml",
            "uas_hold_hangup.xml",
            [
                *ANSWERED_V2,
                ("CallStatus", ("2001", "ANSWERED"), ("2002", "HOLD")),
                ("CallStatus", ("2001", "ANSWERED"), ("2002", "BYE")),
                ("CallStatus", ("2001", "BYE")),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
            [
                *ANSWERED_LEGACY,
                ("BYE", "2002", "2001"),
                ("BYE", "2001", "2002"),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
        ),
        (
            "uac_early.xml",
            "uas_early.xml",
            [
                *ANSWERED_V2,
                ("CallStatus", ("2001", "BYE"), ("2002", "ANSWER")),
                ("CallStatus", ("2002", "BYE")),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
            [
                *ANSWERED_LEGACY,
                ("BYE", "2001", "2002"),
                ("BYE", "2002", "2001"),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
        ),
    ],
    ids=[
        "bye-from-caller",
        "bye-from-callee",
        "cancel-while-ringing",
        "busy-486",
        "hold-and-resume",
        "callee-holds",
        "early-media",
    ],
)
def test_sipp_flow_events_field_by_field(
    call_pbx: PbxProcess,
    receivers: Receivers,
    callee_port: int,
    workdir: Path,
    uac: str,
    uas: str,
    v2: list[tuple[Any, ...]],
    legacy: list[tuple[Any, ...]],
) -> None:
    mark = receivers.mark()
    callee = answer(call_pbx, callee_port, workdir, scenario=uas)
    try:
        call(call_pbx, "2001", "2002", workdir, scenario=uac).finish()
        callee.finish()
    finally:
        callee.kill()
    receivers.check(mark, v2, legacy)


@pytest.mark.parametrize(
    ("caller_pts", "callee_pts"), [("8", "0"), ("9", "0")], ids=["pcma-to-pcmu", "g722-to-pcmu"]
)
def test_transcoded_call_events(
    call_pbx: PbxProcess,
    receivers: Receivers,
    callee_port: int,
    workdir: Path,
    caller_pts: str,
    callee_pts: str,
) -> None:
    """Transcoding changes nothing in what is reported."""
    mark = receivers.mark()
    callee = answer(call_pbx, callee_port, workdir, pts=callee_pts)
    try:
        call(call_pbx, "2001", "2002", workdir, pts=caller_pts).finish()
        callee.finish()
    finally:
        callee.kill()
    receivers.check(
        mark,
        [
            *ANSWERED_V2,
            ("CallStatus", ("2001", "BYE"), ("2002", "ANSWER")),
            ("CallStatus", ("2002", "BYE")),
            ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
        ],
        [
            *ANSWERED_LEGACY,
            ("BYE", "2001", "2002"),
            ("BYE", "2002", "2001"),
            ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
        ],
    )


@pytest.mark.parametrize(
    ("dialled", "body", "status", "reason", "cdr"),
    [
        ("2999", None, 404, "404 NOT found", "NO ANSWER"),
        ("2002", b"v=0\r\nrubbish", 488, "Line Unreachable", "NO ANSWER"),
        ("2003", None, 480, "480 Temporatily Unavailable", "NO ANSWER"),  # not registered
    ],
    ids=["404-unknown-number", "488-bad-sdp", "480-unregistered"],
)
def test_calls_refused_at_the_door(
    call_pbx: PbxProcess,
    receivers: Receivers,
    dialled: str,
    body: bytes | None,
    status: int,
    reason: str,
    cdr: str,
) -> None:
    """No callee rang: no CallStatus, only CallFailed and NewCdr (80 §4.4)."""
    mark = receivers.mark()
    caller = Caller(call_pbx, "2001")
    try:
        response = caller.invite(dialled) if body is None else caller.invite(dialled, body)
        assert response.status == status
    finally:
        caller.close()
    expected = [("CallFailed", reason, "2001"), ("NewCdr", "2001", dialled, cdr, "Internal")]
    receivers.check(mark, expected, expected)


FORWARDED_V2 = [
    ("Forward", "2001"),
    ("CallStatus", ("2001", "ALERT"), ("2003", "RING")),
    ("CallStatus", ("2001", "ANSWERED"), ("2003", "ANSWER")),
    ("CallStatus", ("2001", "BYE"), ("2003", "ANSWER")),
    ("CallStatus", ("2003", "BYE")),
    ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
]
FORWARDED_LEGACY = [
    ("Tranfer", "2001"),
    ("ALERT", "2001"),
    ("RING", "2003", "2001"),
    ("ANSWERED", "2001", "2003"),
    ("ANSWER", "2003", "2001"),
    ("BYE", "2001", "2003"),
    ("BYE", "2003", "2001"),
    ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
]


def test_dnd_and_forwarding_on_busy(
    call_pbx: PbxProcess, receivers: Receivers, workdir: Path
) -> None:
    mark = receivers.mark()
    with settings(call_pbx, "2002", dnd="on"):
        caller = Caller(call_pbx, "2001")
        try:
            assert caller.invite("2002").status == 486
        finally:
            caller.close()
        refused = [("CallFailed", "DND", "2001"), ("NewCdr", "2001", "2002", "BUSY", "Internal")]
        receivers.check(mark, refused, refused)

    forward = {"dnd": "on", "busyforward": "on", "btransferto": "Extension"}
    port = free_port(udp_too=True)
    mark = receivers.mark()
    with settings(call_pbx, "2002", **forward, btransferext="2003"):
        register(call_pbx, "2003", port, workdir)
        try:
            callee = answer(call_pbx, port, workdir)
            try:
                call(call_pbx, "2001", "2002", workdir).finish()
                callee.finish()
            finally:
                callee.kill()
        finally:
            unregister(call_pbx, "2003", port, workdir)
        receivers.check(mark, FORWARDED_V2, FORWARDED_LEGACY)


@pytest.mark.parametrize(
    ("scenario", "hang_up", "reason", "status"),
    [
        ("uas_ring.xml", False, "603 Declined", "NO ANSWER"),
        ("uas_busy.xml", False, "486 Busy here", "BUSY"),
        ("uas_ring.xml", True, "480 Temporatily Unavailable", "NO ANSWER"),
    ],
    ids=["caller-phone-not-answering", "caller-phone-declining", "hung-up-while-ringing"],
)
def test_call_dial_first_party_not_answering(
    call_pbx: PbxProcess,
    receivers: Receivers,
    workdir: Path,
    scenario: str,
    hang_up: bool,
    reason: str,
    status: str,
) -> None:
    """While the caller's phone rings for call/dial the call is live (call/query,
    extension/query_call: the caller ALERT); if that phone never answers (its ring
    timeout runs out) or declines, the call fails there: CallFailed and a CDR. So
    does one hung up through the API meanwhile (as a ringing call does)."""
    token = receivers.token
    port = free_port(udp_too=True)
    mark = receivers.mark()
    with settings(call_pbx, "2001", ringtimeout="5"):
        register(call_pbx, "2001", port, workdir)
        try:
            phone = answer(call_pbx, port, workdir, scenario=scenario)
            try:
                wait_bound(port)
                dialled = call_pbx.api(
                    "call/dial", {"caller": "2001", "callee": "2002"}, token=token
                )
                assert dialled["status"] == "Success", dialled
                call_id = dialled["callid"]
                ringing = {
                    "callid": call_id,
                    "members": [
                        {"ext": {"number": "2001", "channelid": ANY, "memberstatus": "ALERT"}}
                    ],
                }
                if scenario == "uas_ring.xml":  # still ringing: listed
                    listed = call_pbx.api("call/query", {"type": "internal"}, token=token)
                    assert listed["calls"] == [ringing], listed
                    channel = listed["calls"][0]["members"][0]["ext"]["channelid"]
                    assert CHANNEL.fullmatch(channel), channel
                    one = call_pbx.api("call/query", {"callid": call_id}, token=token)
                    assert one["calls"] == [ringing], one
                    of_2001 = call_pbx.api("extension/query_call", {"number": "2001"}, token=token)
                    assert of_2001["calllist"] == [{"number": "2001", "numbercalls": [ringing]}]
                if hang_up:
                    # hung up before its media endpoint came, the call would never ring
                    # the phone: wait until the PBX reports it ringing (its INVITE is
                    # then on the way, and the CANCEL follows the phone's 180)
                    receivers.v2.wait_for(
                        lambda evs: any(
                            e.get("event") == "CallStatus" and e.get("callid") == call_id
                            for e in evs[mark[0] :]
                        )
                    )
                    ended = call_pbx.api("call/hangup", {"callid": call_id}, token=token)
                    assert ended == {"status": "Success", "callid": call_id}
                phone.finish()
            finally:
                phone.kill()
        finally:
            unregister(call_pbx, "2001", port, workdir)
        assert (
            receivers.check(
                mark,
                [
                    ("CallStatus", ("2001", "ALERT")),
                    ("CallFailed", reason, "2001"),
                    ("CallStatus", ("2001", "BYE")),
                    ("NewCdr", "2001", "2002", status, "Internal"),
                ],
                [
                    ("ALERT", "2001"),
                    ("CallFailed", reason, "2001"),
                    ("BYE", "2001"),
                    ("NewCdr", "2001", "2002", status, "Internal"),
                ],
            )
            == call_id
        )
    lines = [
        e["status"]
        for e in receivers.v2.events[mark[0] :]
        if e.get("event") == "ExtensionStatus" and e.get("extension") == "2001"
    ]
    assert "Ringing" in lines, lines  # its phone rang for the call
    assert lines.index("Ringing") < len(lines) - 1 - lines[::-1].index("Registered"), lines
    gone = call_pbx.api("call/query", {"callid": call_id}, token=token)
    assert gone == {"status": "Failed", "errno": "10005"}
    assert call_pbx.api("call/query", {"type": "internal"}, token=token)["calls"] == []


def test_call_dial_answered_then_hung_up_through_the_api(
    call_pbx: PbxProcess, receivers: Receivers, callee_port: int, workdir: Path
) -> None:
    """The caller's phone rings first (the caller alone, ALERT), then the callee; an
    end made through the API lists both BYE in one snapshot."""
    token = receivers.token
    port = free_port(udp_too=True)
    mark = receivers.mark()
    register(call_pbx, "2001", port, workdir)
    try:
        phone = answer(call_pbx, port, workdir)
        callee = answer(call_pbx, callee_port, workdir)
        try:
            wait_bound(port)
            wait_bound(callee_port)
            dialled = call_pbx.api("call/dial", {"caller": "2001", "callee": "2002"}, token=token)
            assert dialled["status"] == "Success", dialled
            receivers.v2.wait_for(
                lambda evs: any(
                    e.get("event") == "CallStatus"
                    and [m["ext"]["memberstatus"] for m in e["members"]] == ["ANSWERED", "ANSWER"]
                    for e in evs[mark[0] :]  # this call's, not an earlier flow's
                )
            )
            hangup = {"callid": dialled["callid"]}
            assert call_pbx.api("call/hangup", hangup, token=token)["status"] == "Success"
            phone.finish()
            callee.finish()
        finally:
            phone.kill()
            callee.kill()
    finally:
        unregister(call_pbx, "2001", port, workdir)
    assert (
        receivers.check(
            mark,
            [
                ("CallStatus", ("2001", "ALERT")),
                *ANSWERED_V2,
                ("CallStatus", ("2001", "BYE"), ("2002", "BYE")),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
            [
                *ANSWERED_LEGACY,
                ("BYE", "2001", "2002"),
                ("BYE", "2002", "2001"),
                ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
            ],
        )
        == dialled["callid"]
    )


def test_every_flow_has_its_row_in_the_cdr_file(call_pbx: PbxProcess, receivers: Receivers) -> None:
    """Last in the module: the downloaded file holds one row per call above, with the
    values its NewCdr carried."""
    assert receivers.calls, "run with the flows above"
    token = receivers.token
    cdrs = {
        value(pairs, "callid"): dict(pairs)
        for pairs in (ordered(b) for b in receivers.v2.bodies)
        if value(pairs, "event") == "NewCdr"
    }
    query = {
        "number": "all",
        "starttime": "2000-01-01 00:00:00",
        "endtime": "2099-12-31 23:59:59",
    }
    # a minute ahead: "now" to the second could leave out a call of this very second
    later = time.localtime(time.time() + 60)
    query = {**query, "endtime": time.strftime("%Y-%m-%d %H:%M:%S", later)}
    query["starttime"] = time.strftime(
        "%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 300 * 24 * 3600)
    )
    grant = call_pbx.api("cdr/get_random", query, token=token)
    assert grant["status"] == "Success", grant
    content_type, body = download(call_pbx, token, {**query, "random": grant["random"]})
    assert content_type == "text/csv; charset=utf-8"
    text = body.decode()
    assert text.split("\r\n")[0] == CSV_HEADER
    rows = {row["callid"]: row for row in csv.DictReader(io.StringIO(text))}
    for call_id in receivers.calls:
        row, event = rows[call_id], cdrs[call_id]
        for column in CSV_HEADER.split(","):
            wire = "dsttrcunkname" if column == "dsttrunkname" else column
            assert row[column] == event[wire], (call_id, column)
