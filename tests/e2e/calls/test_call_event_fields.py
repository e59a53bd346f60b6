"""Every sipp call flow's events, field by field and in order, in the 2.0.0 format and
in the plain legacy format (80-events.md, 81-events-legacy.md), and its CDR row in
the downloaded file (60-voicemail-recording-cdr.md). One PBX for the module; one
receiver per format, logged in once.

The bodies are parsed keeping their key order (and, in the legacy format, repeated
keys), so that names, order and string values are all checked as they are on the
wire.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import answer, call, register, unregister
from tests.e2e.calls.sip_client import Caller
from tests.e2e.calls.test_extension_behaviour import settings
from tests.e2e.test_cdr import download
from tests.harness import EventReceiver, PbxProcess, free_port

pytestmark = pytest.mark.peers

Pairs = list[tuple[str, Any]]
CHANNEL = re.compile(r"PJSIP/(\d+)-[0-9a-f]{8}")
CDR_KEYS = [
    "event", "callid", "timestart", "callfrom", "callto", "callduraction", "talkduraction",
    "srctrunkname", "dsttrcunkname", "pincode", "status", "type", "recording", "didnumber",
    "agentringtime", "sn",
]  # fmt: skip
LEGACY_CDR_KEYS = [
    "action", "callid", "timestart", "callfrom", "callto", "callduraction", "talkduraction",
    "status", "type", "sn",
]  # fmt: skip
CSV_HEADER = (
    "callid,timestart,callfrom,callto,callduraction,talkduraction,srctrunkname,"
    "dsttrunkname,status,type,pincode,recording,didnumber,sn"
)
CALL_EVENTS = {"CallStatus", "CallFailed", "Forward", "NewCdr", "Tranfer"}
LEGACY_CALL = {"ALERT", "RING", "ANSWER", "ANSWERED", "BYE", "CallFailed", "NewCdr", "Tranfer"}


class Receivers:
    def __init__(self, pbx: PbxProcess) -> None:
        self.pbx = pbx
        self.v2 = EventReceiver().start()
        self.legacy = EventReceiver().start()
        self.token = pbx.login(port=self.v2.port)
        pbx.login_legacy(port=self.legacy.port)
        self.calls: list[str] = []  # every call id the module's flows made

    def mark(self) -> tuple[int, int]:
        return len(self.v2.bodies), len(self.legacy.bodies)

    def flow(self, mark: tuple[int, int]) -> tuple[list[Pairs], list[Pairs]]:
        """The call events of one call since ``mark``, once its NewCdr arrived in both
        formats (the flows run one at a time)."""

        def done(receiver: EventReceiver, start: int) -> bool:
            return any(e.get("event", e.get("action")) == "NewCdr" for e in receiver.events[start:])

        self.v2.wait_for(lambda _e: done(self.v2, mark[0]))
        self.legacy.wait_for(lambda _e: done(self.legacy, mark[1]))
        time.sleep(0.2)  # nothing more may follow the NewCdr: give a stray one the chance
        v2 = [ordered(b) for b in self.v2.bodies[mark[0] :]]
        legacy = [ordered(b) for b in self.legacy.bodies[mark[1] :]]
        v2 = [e for e in v2 if value(e, "event") in CALL_EVENTS]
        legacy = [e for e in legacy if value(e, "action") in LEGACY_CALL]
        ids = {value(e, "callid") for e in v2} | {value(e, "callid") for e in legacy}
        assert len(ids) == 1, ids  # one call, one id in every event of both formats
        self.calls.append(ids.pop())
        return v2, legacy

    def stop(self) -> None:
        self.v2.stop()
        self.legacy.stop()


def ordered(body: bytes) -> Pairs:
    pairs: Pairs = json.loads(body, object_pairs_hook=list)
    return pairs


def value(pairs: Pairs, key: str) -> Any:
    found = [v for k, v in pairs if k == key]
    return found[0] if found else None


def keys(pairs: Pairs) -> list[str]:
    return [k for k, _ in pairs]


@pytest.fixture(scope="module")
def receivers(call_pbx: PbxProcess) -> Iterator[Receivers]:
    rx = Receivers(call_pbx)
    yield rx
    rx.stop()


@pytest.fixture
def callee_port(call_pbx: PbxProcess, workdir: Path) -> Iterator[int]:
    port = free_port(udp_too=True)
    register(call_pbx, "2002", port, workdir)
    yield port
    unregister(call_pbx, "2002", port, workdir)


# -- what each event must look like ----------------------------------------------------


def v2_summary(events: list[Pairs], sn: str) -> list[tuple[Any, ...]]:
    """Each 2.0.0 event checked for its exact keys, order and types, then summed up as
    (event, ...) with the members as (number, status)."""
    channels: dict[str, str] = {}
    out: list[tuple[Any, ...]] = []
    for event in events:
        name = value(event, "event")
        assert value(event, "sn") == sn and keys(event)[-1] == "sn"
        assert re.fullmatch(r"\d+\.\d+", value(event, "callid"))
        if name == "NewCdr":
            assert keys(event) == CDR_KEYS
            assert all(isinstance(v, str) for _, v in event)
            for empty in ("srctrunkname", "dsttrcunkname", "pincode", "recording", "didnumber"):
                assert value(event, empty) == ""
            assert value(event, "agentringtime") == "0"
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value(event, "timestart"))
            talk, total = int(value(event, "talkduraction")), int(value(event, "callduraction"))
            assert 0 <= talk <= total < 60
            assert talk == 0 or value(event, "status") == "ANSWERED"
            out.append(
                (name, value(event, "callfrom"), value(event, "callto"), value(event, "status"),
                 value(event, "type"))
            )  # fmt: skip
            continue
        expected = ["callid", "event"] if name == "CallFailed" else ["event", "callid"]
        assert keys(event)[:2] == expected
        assert keys(event)[-2:] == ["members", "sn"]
        members = []
        for member in value(event, "members"):
            ((kind, fields),) = member
            assert kind == "ext"
            wanted = ["number", "channelid"] + (["memberstatus"] if name == "CallStatus" else [])
            assert keys(fields) == wanted, fields
            number, channel = value(fields, "number"), value(fields, "channelid")
            match = CHANNEL.fullmatch(channel)
            assert match is not None and match.group(1) == number, channel
            assert channels.setdefault(channel, number) == number
            members.append(
                (number, value(fields, "memberstatus")) if name == "CallStatus" else number
            )
        if name == "CallFailed":
            assert keys(event) == ["callid", "event", "reason", "members", "sn"]
            out.append((name, value(event, "reason"), *members))
        else:
            assert len(keys(event)) == 4
            out.append((name, *members))
    return out


def legacy_summary(events: list[Pairs], sn: str) -> list[tuple[Any, ...]]:
    """Each plain legacy report checked the same way: (action, ...) with each party
    as its extension number, in order (repeated ``ext`` keys included)."""
    out: list[tuple[Any, ...]] = []
    for event in events:
        action = value(event, "action")
        assert value(event, "sn") == sn and keys(event)[-1] == "sn"
        if action == "NewCdr":
            assert keys(event) == LEGACY_CDR_KEYS  # empty keys are left out
            out.append((action, value(event, "callfrom"), value(event, "callto"),
                        value(event, "status"), value(event, "type")))  # fmt: skip
            continue
        head = ["action", "reason", "callid"] if action == "CallFailed" else ["action", "callid"]
        assert keys(event)[: len(head)] == head
        parties = event[len(head) : -1]
        numbers = []
        for kind, fields in parties:
            assert kind == "ext" and keys(fields) == ["extid"], parties
            numbers.append(value(fields, "extid"))
        extra = (value(event, "reason"),) if action == "CallFailed" else ()
        out.append((action, *extra, *numbers))
    return out


def sn_of(pbx: PbxProcess, token: str) -> str:
    info = pbx.api("deviceinfo/query", {}, token=token)
    return str(info.get("sn") or info.get("deviceinfo", {}).get("sn"))


# -- the flows ---------------------------------------------------------------------------

ANSWERED_V2 = [
    ("CallStatus", ("2001", "ALERT"), ("2002", "RING")),
    ("CallStatus", ("2001", "ANSWERED"), ("2002", "ANSWER")),
]
ANSWERED_LEGACY = [
    ("ALERT", "2001"),
    ("RING", "2002", "2001"),
    ("ANSWERED", "2001", "2002"),
    ("ANSWER", "2002", "2001"),
]


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
    sn = sn_of(call_pbx, receivers.token)
    mark = receivers.mark()
    callee = answer(call_pbx, callee_port, workdir, scenario=uas)
    try:
        call(call_pbx, "2001", "2002", workdir, scenario=uac).finish()
        callee.finish()
    finally:
        callee.kill()
    got_v2, got_legacy = receivers.flow(mark)
    assert v2_summary(got_v2, sn) == v2
    assert legacy_summary(got_legacy, sn) == legacy


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
    sn = sn_of(call_pbx, receivers.token)
    mark = receivers.mark()
    callee = answer(call_pbx, callee_port, workdir, pts=callee_pts)
    try:
        call(call_pbx, "2001", "2002", workdir, pts=caller_pts).finish()
        callee.finish()
    finally:
        callee.kill()
    got_v2, got_legacy = receivers.flow(mark)
    assert v2_summary(got_v2, sn) == [
        *ANSWERED_V2,
        ("CallStatus", ("2001", "BYE"), ("2002", "ANSWER")),
        ("CallStatus", ("2002", "BYE")),
        ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
    ]
    assert legacy_summary(got_legacy, sn)[-3:] == [
        ("BYE", "2001", "2002"),
        ("BYE", "2002", "2001"),
        ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
    ]


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
    sn = sn_of(call_pbx, receivers.token)
    mark = receivers.mark()
    caller = Caller(call_pbx, "2001")
    try:
        response = caller.invite(dialled) if body is None else caller.invite(dialled, body)
        assert response.status == status
    finally:
        caller.close()
    got_v2, got_legacy = receivers.flow(mark)
    assert v2_summary(got_v2, sn) == [
        ("CallFailed", reason, "2001"),
        ("NewCdr", "2001", dialled, cdr, "Internal"),
    ]
    assert legacy_summary(got_legacy, sn) == [
        ("CallFailed", reason, "2001"),
        ("NewCdr", "2001", dialled, cdr, "Internal"),
    ]


def test_dnd_and_forwarding_on_busy(
    call_pbx: PbxProcess, receivers: Receivers, workdir: Path
) -> None:
    sn = sn_of(call_pbx, receivers.token)
    mark = receivers.mark()
    with settings(call_pbx, "2002", dnd="on"):
        caller = Caller(call_pbx, "2001")
        try:
            assert caller.invite("2002").status == 486
        finally:
            caller.close()
        got_v2, got_legacy = receivers.flow(mark)
    assert v2_summary(got_v2, sn) == [
        ("CallFailed", "DND", "2001"),
        ("NewCdr", "2001", "2002", "BUSY", "Internal"),
    ]
    assert legacy_summary(got_legacy, sn) == [
        ("CallFailed", "DND", "2001"),
        ("NewCdr", "2001", "2002", "BUSY", "Internal"),
    ]

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
        got_v2, got_legacy = receivers.flow(mark)
    assert v2_summary(got_v2, sn) == [
        ("Forward", "2001"),
        ("CallStatus", ("2001", "ALERT"), ("2003", "RING")),
        ("CallStatus", ("2001", "ANSWERED"), ("2003", "ANSWER")),
        ("CallStatus", ("2001", "BYE"), ("2003", "ANSWER")),
        ("CallStatus", ("2003", "BYE")),
        ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
    ]
    assert legacy_summary(got_legacy, sn) == [
        ("Tranfer", "2001"),
        ("ALERT", "2001"),
        ("RING", "2003", "2001"),
        ("ANSWERED", "2001", "2003"),
        ("ANSWER", "2003", "2001"),
        ("BYE", "2001", "2003"),
        ("BYE", "2003", "2001"),
        ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
    ]


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
