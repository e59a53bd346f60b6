"""A call between two extensions through an IVR: 2001 dials IVR 6201 and presses 1,
which rings 2002. The call keeps one id and its members are the two extensions;
the one reached through the IVR carries ``callpath`` 6201 in ``CallStatus`` and in
``call/query`` (80 §2.5, 70 §1.5), the caller none. The legacy reports, which have
no ``callpath``, are those of the IVR answering, then of an ordinary call, the same
in the plain and the 1.0.2 form; the CDR names the extension that answered."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.event_fields import (
    FLAT,
    LEGACY_CALL,
    WELL_FORMED,
    legacy_summary,
    ordered,
    sn_of,
    value,
)
from tests.e2e.calls.peers import answer
from tests.e2e.ivr.caller import call_ivr, press_pcap, scenario, sipp_pcap
from tests.e2e.ivr.conftest import IVR_MAIN
from tests.harness import EventReceiver, PbxProcess

pytestmark = pytest.mark.peers


@pytest.fixture
def receivers(ivr_pbx: PbxProcess) -> Iterator[tuple[EventReceiver, EventReceiver, str]]:
    v2, legacy = EventReceiver().start(), EventReceiver().start()
    token = ivr_pbx.login(port=v2.port)
    ivr_pbx.login_legacy(port=legacy.port)
    yield v2, legacy, token
    v2.stop()
    legacy.stop()


@pytest.fixture
def well_formed(ivr_pbx: PbxProcess) -> Iterator[EventReceiver]:
    """Legacy reports in the 1.0.2 form (parties in a ``call`` array)."""
    receiver = EventReceiver().start()
    ivr_pbx.login_legacy(port=receiver.port, version="1.0.2")
    yield receiver
    receiver.stop()


def members(event: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(number, memberstatus, callpath or None) of each ext member."""
    return [
        (m["ext"]["number"], m["ext"]["memberstatus"], m["ext"].get("callpath"))
        for m in event["members"]
    ]


def test_call_through_an_ivr_lists_its_members_with_the_callpath(
    ivr_pbx: PbxProcess,
    phones: dict[str, int],
    workdir: Path,
    receivers: tuple[EventReceiver, EventReceiver, str],
    well_formed: EventReceiver,
) -> None:
    v2, legacy, token = receivers
    callee = answer(ivr_pbx, phones["2002"], workdir)
    text = scenario("2001", [press_pcap(sipp_pcap("1"))], connected=True, talk_ms=4000)
    caller = call_ivr(ivr_pbx, "2001", IVR_MAIN, workdir, text)
    try:
        deadline = time.monotonic() + 15
        calls: list[dict[str, Any]] = []
        while time.monotonic() < deadline:  # until the IVR has connected 2002
            calls = ivr_pbx.api("call/query", {"type": "internal"}, token=token)["calls"]
            if calls and any(m["ext"].get("memberstatus") == "ANSWER" for m in calls[0]["members"]):
                break
            time.sleep(0.05)
        [live] = calls
        assert [list(m["ext"]) for m in live["members"]] == [
            ["number", "channelid", "memberstatus"],
            ["number", "channelid", "memberstatus", "callpath"],
        ]
        assert [(m["ext"]["number"], m["ext"].get("callpath")) for m in live["members"]] == [
            ("2001", None),
            ("2002", IVR_MAIN),
        ]
        of_2002 = ivr_pbx.api("extension/query_call", {"number": "2002"}, token=token)
        assert of_2002["calllist"][0]["numbercalls"] == [live]
        caller.finish()
        callee.finish()
    finally:
        caller.kill()
        callee.kill()
    events = v2.wait_for(lambda es: any(e.get("event") == "NewCdr" for e in es))
    call_id = live["callid"]
    mine = [e for e in events if e.get("callid") == call_id]
    statuses = [members(e) for e in mine if e["event"] == "CallStatus"]
    assert statuses == [
        [("2001", "ANSWERED", None)],  # the IVR answered the caller
        [("2001", "ALERT", None), ("2002", "RING", IVR_MAIN)],
        [("2001", "ANSWERED", None), ("2002", "ANSWER", IVR_MAIN)],
        [("2001", "BYE", None), ("2002", "ANSWER", IVR_MAIN)],
        [("2002", "BYE", IVR_MAIN)],
    ]
    for event in mine:  # the key is the last one of a member that has it
        for member in event.get("members", []):
            if "callpath" in member["ext"]:
                assert list(member["ext"])[-1] == "callpath"
    [cdr] = [e for e in mine if e["event"] == "NewCdr"]
    assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("2001", "2002", "ANSWERED")
    reports = legacy.wait_for(lambda rs: any(r.get("action") == "NewCdr" for r in rs))
    body = [json.loads(b, object_pairs_hook=list) for b in legacy.bodies]
    assert all("callpath" not in json.dumps(b) for b in body)
    actions = [r["action"] for r in reports if r.get("callid") == call_id]
    assert [a for a in actions if a not in ("DTMF", "PlayPromptEnd")] == [
        "ALERT", "ANSWERED",  # the IVR answered the caller
        "ALERT", "RING", "ANSWERED", "ANSWER", "BYE", "BYE", "NewCdr",  # 2002 rang, answered
    ]  # fmt: skip
    # field by field, in both legacy forms: the same parties in the same order
    well_formed.wait_for(lambda rs: any(r.get("action") == "NewCdr" for r in rs))
    sn = sn_of(ivr_pbx, token)
    expected = [
        ("ALERT", "2001"), ("ANSWERED", "2001"),  # the IVR answered the caller
        ("ALERT", "2001"), ("RING", "2002", "2001"), ("ANSWERED", "2001", "2002"),
        ("ANSWER", "2002", "2001"), ("BYE", "2001", "2002"), ("BYE", "2002", "2001"),
        ("NewCdr", "2001", "2002", "ANSWERED", "Internal"),
    ]  # fmt: skip
    for receiver, form in ((legacy, FLAT), (well_formed, WELL_FORMED)):
        reports = [ordered(b) for b in receiver.bodies]
        calls_ = [r for r in reports if value(r, "callid") == call_id]
        assert legacy_summary([r for r in calls_ if value(r, "action") in LEGACY_CALL], sn,
                              form) == expected, form  # fmt: skip
        assert all("callpath" not in json.dumps(r) for r in calls_)
