"""Attended transfer and add_member to numbers outside: the consultation leg and the
added member are dialled through the outbound routes (the member's permissions, the
route's rewriting, the trunk's caller ID) to a sipp provider, whose audio the test
sends and decodes itself. The outside party shows as an ``outbound`` member in
call/query and in the events of both formats; refusals answer the spec's errno."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.dialog_phone import TalkingCaller
from tests.e2e.calls.peers import answer, call, pbx_media_port, register, unregister
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.calls.test_attended_transfer import hears as hear_each_other
from tests.e2e.calls.test_listen_and_add_member import (
    AGENT_HZ,
    CALLER_HZ,
    THIRD_HZ,
    hears,
    talk3,
)
from tests.e2e.trunk_calls import test_trunk_calls as trunks
from tests.e2e.trunk_calls.test_trunk_calls import Net, provider, received_invite
from tests.harness import HOST, free_port

pytestmark = pytest.mark.peers
net, workdir = trunks.net, trunks.workdir  # that module's trunks, routes and receivers

OUTSIDE = "9555000222"  # route Intl: strip 1, prepend 00, through ProvA
SENT = "00555000222"


def party(member: dict[str, Any]) -> tuple[str, str]:
    """(extension number or outside number, memberstatus) of a member object."""
    if "ext" in member:
        return member["ext"]["number"], member["ext"]["memberstatus"]
    info = member.get("outbound") or member["inbound"]
    return info["to"], info["memberstatus"]


def first_call(net: Net, expected: list[tuple[str, str]]) -> dict[str, Any]:
    """The one internal call once its members are ``expected`` (bounded wait)."""
    deadline = time.monotonic() + 10.0
    while True:
        calls = net.api("call/query", {"type": "internal"})["calls"]
        if len(calls) == 1 and [party(m) for m in calls[0]["members"]] == expected:
            return dict(calls[0])
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)


def shown(net: Net, call_id: str, expected: list[tuple[str, str]]) -> dict[str, Any]:
    """Call ``call_id`` once its members are ``expected`` (bounded wait)."""
    deadline = time.monotonic() + 10.0
    while True:
        found = net.pbx.api("call/query", {"callid": call_id}, token=net.token)
        calls = found.get("calls", [])
        if calls and [party(m) for m in calls[0]["members"]] == expected:
            return dict(calls[0])
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def gone(net: Net, call_id: str) -> None:
    deadline = time.monotonic() + 10.0
    while net.pbx.api("call/query", {"callid": call_id}, token=net.token)["status"] == "Success":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def call_cdr(net: Net, call_id: str) -> dict[str, Any]:
    def cdr(event: dict[str, Any]) -> bool:
        return event.get("event") == "NewCdr" and event.get("callid") == call_id

    events = net.events.wait_for(lambda evs: any(map(cdr, evs)))
    (record,) = [e for e in events if cdr(e)]
    return record


def legacy_reports(net: Net, call_id: str) -> list[dict[str, Any]]:
    return [
        json.loads(body)
        for body in net.legacy.bodies
        if call_id.encode() in body and b'"NewCdr"' not in body
    ]


def test_attended_transfer_to_an_outside_number(net: Net, workdir: Path) -> None:
    """2001 consults a number outside while 2002 is held, talks to it, then completes:
    2002 and the outside party talk, 2001 gets a BYE."""
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    transferor, held, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    outside_dir = workdir / "provider"
    outside_dir.mkdir()
    held_uas = answer(net.pbx, port, workdir, scenario="uas_held.xml", rtp=held.port)
    prov = provider(net, "provider_answer_media.xml", "prova", outside_dir, rtp=str(target.port))
    uac = call(
        net.pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=transferor.port
    )
    try:
        current = first_call(net, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        started = net.api("call/attended_transfer", {"channelid": b, "tonumber": OUTSIDE})
        assert started == {"status": "Success", "callid": call_id}
        consulted = shown(net, call_id, [("2001", "ANSWERED"), ("2002", "HOLD"), (SENT, "ANSWER")])
        outbound = consulted["members"][2]["outbound"]
        assert outbound["trunkname"] == "ProvA" and outbound["from"] == "2001"
        assert outbound["channelid"].startswith("PJSIP/trunk-ProvA-endpoint-")
        to_b = (HOST, pbx_media_port(workdir, "caller"))
        to_c = (HOST, pbx_media_port(outside_dir, "provider"))
        b_hears, c_hears = hear_each_other(transferor, to_b, target, to_c)
        assert 550 < b_hears < 650 and 950 < c_hears < 1050  # 2001 talks to the outside

        done = net.api("call/attended_transfer_operate", {"channelid": b, "operate": "complete"})
        assert done == {"status": "Success", "callid": call_id}
        uac.finish()  # the transferor got its BYE
        final = shown(net, call_id, [("2002", "ANSWERED"), (SENT, "ANSWER")])
        assert final["members"][1]["outbound"]["channelid"] == outbound["channelid"]
        to_a = (HOST, pbx_media_port(workdir, "callee"))
        a_hears, c_hears = hear_each_other(held, to_a, target, to_c)
        assert 550 < a_hears < 650 and 950 < c_hears < 1050  # 2002 and the outside talk
        assert net.api("call/hangup", {"callid": call_id})["status"] == "Success"
        prov.finish()
        held_uas.finish()
    finally:
        for process in (uac, held_uas, prov):
            process.kill()
        for phone in (transferor, held, target):
            phone.close()
        unregister(net.pbx, "2002", port, workdir)
    gone(net, call_id)
    invite = received_invite(outside_dir, "provider_answer_media.xml")
    assert invite.startswith(f"INVITE sip:{SENT}@provider.test")
    assert 'From: "FrontDesk" <sip:4402100@' in invite  # 2001's DOD on ProvA
    assert "100rel" not in invite  # this leg sends no PRACK
    snapshots = [
        [party(m) for m in e["members"]]
        for e in net.events.named("CallStatus")
        if e["callid"] == call_id
    ]
    assert [("2001", "ANSWERED"), ("2002", "HOLD"), (SENT, "RING")] in snapshots
    assert [("2001", "BYE"), ("2002", "ANSWERED"), (SENT, "ANSWER")] in snapshots
    cdr = call_cdr(net, call_id)  # one CDR; the call left through ProvA in the end
    assert (cdr["type"], cdr["dsttrcunkname"], cdr["status"]) == ("Outbound", "ProvA", "ANSWERED")
    reports = legacy_reports(net, call_id)
    rang = [r for r in reports if r["action"] == "RING" and "outbound" in r]
    assert rang and rang[0]["outbound"]["trunk"] == "ProvA", reports
    assert rang[0]["outbound"]["to"] == SENT


def test_blind_transfer_to_an_outside_number(net: Net, workdir: Path) -> None:
    """2002 is transferred (call/transfer of its channel) to a number outside through
    2001's route: 2001 gets a BYE, 2002 talks to the outside party in the same call."""
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    kept, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    outside_dir = workdir / "provider"
    outside_dir.mkdir()
    uas = answer(net.pbx, port, workdir, rtp=kept.port)
    prov = provider(net, "provider_answer_media.xml", "prova", outside_dir, rtp=str(target.port))
    uac = call(net.pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
    try:
        current = first_call(net, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][1]["ext"]["channelid"]
        moved = net.api("call/transfer", {"channelid": b, "number": OUTSIDE})
        assert moved == {"status": "Success", "callid": call_id}
        uac.finish()  # the transferor got its BYE
        now = shown(net, call_id, [("2002", "ANSWERED"), (SENT, "ANSWER")])
        assert now["members"][0]["ext"]["channelid"] == b
        assert now["members"][1]["outbound"]["trunkname"] == "ProvA"
        to_kept = (HOST, pbx_media_port(workdir, "callee"))
        to_target = (HOST, pbx_media_port(outside_dir, "provider"))
        kept_hears, target_hears = hear_each_other(kept, to_kept, target, to_target)
        assert 550 < kept_hears < 650 and 950 < target_hears < 1050
        assert net.api("call/hangup", {"callid": call_id})["status"] == "Success"
        prov.finish()
        uas.finish()
    finally:
        for process in (uac, uas, prov):
            process.kill()
        for phone in (kept, target):
            phone.close()
        unregister(net.pbx, "2002", port, workdir)
    gone(net, call_id)
    invite = received_invite(outside_dir, "provider_answer_media.xml")
    assert invite.startswith(f"INVITE sip:{SENT}@provider.test")
    snapshots = [
        [party(m) for m in e["members"]]
        for e in net.events.named("CallStatus")
        if e["callid"] == call_id
    ]
    # the kept party calls the target now: ALERT while it rings, as for an extension
    assert any(s[-2:] == [("2002", "ALERT"), (SENT, "RING")] for s in snapshots), snapshots
    assert [("2002", "ANSWERED"), (SENT, "ANSWER")] in snapshots
    cdr = call_cdr(net, call_id)
    assert (cdr["type"], cdr["dsttrcunkname"], cdr["status"]) == ("Outbound", "ProvA", "ANSWERED")
    reports = legacy_reports(net, call_id)
    assert any(r["action"] == "ANSWER" and "outbound" in r for r in reports), reports


def test_a_phone_transfers_to_an_outside_number_by_refer(net: Net, workdir: Path) -> None:
    """2001 (a bare phone) REFERs its partner 2002 to a number outside: the answer
    waits for 2001's route (404 none, 403 not permitted), then 202, the sipfrag
    NOTIFYs and a BYE; 2002 talks to the outside party; Tranfer in both formats."""
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    kept, target = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    outside_dir = workdir / "provider"
    outside_dir.mkdir()
    uas = answer(net.pbx, port, workdir, rtp=kept.port)
    prov = provider(net, "provider_answer_media.xml", "prova", outside_dir, rtp=str(target.port))
    phone = TalkingCaller(net.pbx, "2001")
    try:
        phone.establish("2002")
        current = first_call(net, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id = current["callid"]
        here = f"{HOST}:{net.pbx.sip_port}"
        for number, status in (("01234", 404), ("8555000", 403), ("2999", 404)):
            refused = phone.in_dialog("REFER", f"Refer-To: <sip:{number}@{here}>\r\n")
            assert refused.status == status, (number, refused.status)
        accepted = phone.in_dialog("REFER", f"Refer-To: <sip:{OUTSIDE}@{here}>\r\n")
        assert accepted.status == 202
        fragments = [phone.next_request().body.strip() for _ in range(2)]
        assert fragments == [b"SIP/2.0 100 Trying", b"SIP/2.0 200 OK"]
        assert phone.next_request().method == "BYE"  # the transferor is released
        shown(net, call_id, [("2002", "ANSWERED"), (SENT, "ANSWER")])
        to_kept = (HOST, pbx_media_port(workdir, "callee"))
        to_target = (HOST, pbx_media_port(outside_dir, "provider"))
        kept_hears, target_hears = hear_each_other(kept, to_kept, target, to_target)
        assert 550 < kept_hears < 650 and 950 < target_hears < 1050
        assert net.api("call/hangup", {"callid": call_id})["status"] == "Success"
        prov.finish()
        uas.finish()
    finally:
        for process in (uas, prov):
            process.kill()
        for rtp in (kept, target):
            rtp.close()
        phone.close()
        unregister(net.pbx, "2002", port, workdir)
    gone(net, call_id)
    invite = received_invite(outside_dir, "provider_answer_media.xml")
    assert invite.startswith(f"INVITE sip:{SENT}@provider.test")
    assert "Referred-By" not in invite  # an extension's name is not told to a provider
    (tranfer,) = [e for e in net.events.named("Tranfer") if e["callid"] == call_id]
    assert [m["ext"]["number"] for m in tranfer["members"]] == ["2002", "2001"], tranfer
    legacy = [r for r in legacy_reports(net, call_id) if r["action"] == "Tranfer"]
    assert len(legacy) == 1, legacy


def test_add_member_from_outside_where_each_hears_the_other_two(net: Net, workdir: Path) -> None:
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    caller, agent, third = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    outside_dir = workdir / "provider"
    outside_dir.mkdir()
    uas = answer(net.pbx, port, workdir, rtp=agent.port)
    prov = provider(net, "provider_answer_media.xml", "prova", outside_dir, rtp=str(third.port))
    uac = call(net.pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port)
    try:
        current = first_call(net, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, first = current["callid"], current["members"][0]["ext"]["channelid"]
        added = net.api("call/add_member", {"channelid": first, "number": OUTSIDE})
        assert added == {"status": "Success", "callid": call_id}
        now = shown(net, call_id, [("2001", "ANSWERED"), ("2002", "ANSWER"), (SENT, "ANSWER")])
        assert now["members"][2]["outbound"]["trunkname"] == "ProvA"
        phones = [
            (caller, (HOST, pbx_media_port(workdir, "caller")), CALLER_HZ),
            (agent, (HOST, pbx_media_port(workdir, "callee")), AGENT_HZ),
            (third, (HOST, pbx_media_port(outside_dir, "provider")), THIRD_HZ),
        ]
        talk3(phones)
        assert hears(caller) == {AGENT_HZ, THIRD_HZ}
        assert hears(agent) == {CALLER_HZ, THIRD_HZ}
        assert hears(third) == {CALLER_HZ, AGENT_HZ}
        again = net.pbx.api(
            "call/add_member", {"channelid": first, "number": OUTSIDE}, token=net.token
        )
        assert again == {"status": "Failed", "errno": "10008"}  # in the call already
        assert net.api("call/hangup", {"callid": call_id})["status"] == "Success"
        prov.finish()
        uac.finish()
        uas.finish()
    finally:
        for process in (uac, uas, prov):
            process.kill()
        for phone in (caller, agent, third):
            phone.close()
        unregister(net.pbx, "2002", port, workdir)
    gone(net, call_id)
    invite = received_invite(outside_dir, "provider_answer_media.xml")
    assert invite.startswith(f"INVITE sip:{SENT}@provider.test")
    snapshots = [
        [party(m) for m in e["members"]]
        for e in net.events.named("CallStatus")
        if e["callid"] == call_id
    ]
    assert [("2001", "ANSWERED"), ("2002", "ANSWER"), (SENT, "RING")] in snapshots
    assert [("2001", "ANSWERED"), ("2002", "ANSWER"), (SENT, "ANSWER")] in snapshots
    reports = legacy_reports(net, call_id)
    answered = [r for r in reports if r["action"] == "ANSWER" and "outbound" in r]
    assert answered and answered[0]["outbound"]["trunk"] == "ProvA", reports


def test_outside_numbers_refused_with_the_spec_errno(net: Net, workdir: Path) -> None:
    """No route (10031), a route that does not permit the member (10024), an
    extension-length number that is none, a feature code or no number at all (10011),
    for the three endpoints; a dialpermission naming no extension (10006), and one
    that permits a route; a provider that refuses the consultation (the call goes on
    as before)."""
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    uas = answer(net.pbx, port, workdir, scenario="uas_held.xml")
    busy = provider(net, "provider_503.xml", "prova", workdir)
    uac = call(net.pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
    try:
        current = first_call(net, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, b = current["callid"], current["members"][0]["ext"]["channelid"]
        refusals = [("01234", "10031"), ("8555000", "10024"), ("2999", "10011")]
        refusals += [("*97", "10011"), ("x" * 40, "10011")]  # a code, no number: internal
        for number, errno in refusals:
            for name, field in (
                ("call/attended_transfer", "tonumber"),
                ("call/add_member", "number"),
                ("call/transfer", "number"),  # b's peer (2002) is the transferor
            ):
                body = {"channelid": b, field: number}
                answer_ = net.pbx.api(name, body, token=net.token)
                assert answer_ == {"status": "Failed", "errno": errno}, (name, number, answer_)
        for name, field in (
            ("call/attended_transfer", "tonumber"),
            ("call/add_member", "number"),
            ("call/transfer", "number"),
        ):  # dialpermission names no extension
            body = {"channelid": b, field: OUTSIDE, "dialpermission": "2999"}
            answer_ = net.pbx.api(name, body, token=net.token)
            assert answer_ == {"status": "Failed", "errno": "10006"}, (name, answer_)
        # 2003's permissions (dialpermission) reach route Restricted, which 2001 may not
        # use; the provider refuses the consultation: 2002 is resumed, 2001 talks to it
        consult = {"channelid": b, "tonumber": "8555000", "dialpermission": 2003}
        assert net.api("call/attended_transfer", consult)["callid"] == call_id
        busy.finish()
        shown(net, call_id, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        assert net.api("call/hangup", {"callid": call_id})["status"] == "Success"
        uac.finish()
        uas.finish()
    finally:
        for process in (uac, uas, busy):
            process.kill()
        unregister(net.pbx, "2002", port, workdir)
    gone(net, call_id)
    invite = received_invite(workdir, "provider_503.xml")
    assert invite.startswith("INVITE sip:8555000@provider.test")
    (sender,) = [line for line in invite.splitlines() if line.startswith("From:")]
    assert "<sip:2003@provider.test>" in sender  # 2003's caller ID


def test_an_added_member_outside_fails_over_to_the_next_trunk(net: Net, workdir: Path) -> None:
    """Route Fail503 tries Busy (503) and then ProvA, which answers: the member
    joins, listed with the trunk that answered."""
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    outside_dir = workdir / "provider"
    outside_dir.mkdir()
    uas = answer(net.pbx, port, workdir)
    busy = provider(net, "provider_503.xml", "busy", workdir)
    prov = provider(net, "provider_answer.xml", "prova", outside_dir)
    uac = call(net.pbx, "2001", "2002", workdir, scenario="uac_wait_bye.xml")
    try:
        current = first_call(net, [("2001", "ANSWERED"), ("2002", "ANSWER")])
        call_id, first = current["callid"], current["members"][0]["ext"]["channelid"]
        added = net.api("call/add_member", {"channelid": first, "number": "7555000444"})
        assert added == {"status": "Success", "callid": call_id}
        now = shown(
            net, call_id, [("2001", "ANSWERED"), ("2002", "ANSWER"), ("555000444", "ANSWER")]
        )
        assert now["members"][2]["outbound"]["trunkname"] == "ProvA"
        busy.finish()  # it refused first
        assert net.api("call/hangup", {"callid": call_id})["status"] == "Success"
        prov.finish()
        uac.finish()
        uas.finish()
    finally:
        for process in (uac, uas, busy, prov):
            process.kill()
        unregister(net.pbx, "2002", port, workdir)
    gone(net, call_id)
    assert received_invite(outside_dir, "provider_answer.xml").startswith(
        "INVITE sip:555000444@provider.test"
    )
