"""call/hold and call/unhold of one party of a three-way call (call/add_member): the
party named gets the re-INVITEs (sendonly, then sendrecv), hears hold music and
none of the others, shows HOLD; the other two keep hearing each other; once resumed
each hears the other two again. Both an added member and one of the first two
parties are held in turn; three sipp phones whose audio the test sends and decodes
itself; CallStatus in both formats (a hold makes no legacy report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls import test_listen_and_add_member as three_way
from tests.e2e.calls.peers import answer, call, pbx_media_port
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.calls.test_listen_and_add_member import (
    AGENT_HZ,
    CALLER_HZ,
    THIRD_HZ,
    hears,
    legacy_report,
    members,
    no_calls,
    talk3,
)
from tests.harness import HOST, EventReceiver, PbxProcess
from tests.media_audio import goertzel

pytestmark = pytest.mark.peers
ports = three_way.ports  # 2002 and 2003 registered, each from a port of its own

Phones = list[tuple[RtpPhone, tuple[str, int], int]]


def power(phone: RtpPhone, hz: int) -> float:
    return goertzel(phone.decoded(), phone.rate, hz)


def held_hears_music_only(phones: Phones, held: int) -> None:
    """While ``phones[held]`` is held: the other two hear each other only, and the
    held phone gets audio (the music) but not their tones."""
    talk3(phones)
    (one, _, one_hz), (other, _, other_hz) = [p for i, p in enumerate(phones) if i != held]
    assert hears(one) == {other_hz} and hears(other) == {one_hz}
    phone = phones[held][0]
    assert len(phone.received) >= 20, len(phone.received)  # the music flows
    for listener, hz in ((one, other_hz), (other, one_hz)):
        assert power(phone, hz) < power(listener, hz) / 100, (hz, power(phone, hz))


def everyone_hears_the_other_two(phones: Phones) -> None:
    talk3(phones)
    every = {hz for _, _, hz in phones}
    for phone, _, own in phones:
        assert hears(phone) == every - {own}


def test_hold_one_party_of_a_three_way_call(
    call_pbx: PbxProcess, ports: tuple[int, int], workdir: Path, receiver: EventReceiver
) -> None:
    token = call_pbx.login(port=receiver.port)
    legacy = EventReceiver().start()
    call_pbx.login_legacy(port=legacy.port)
    caller, agent, third = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    third_dir = workdir / "third"
    third_dir.mkdir()
    uas = answer(call_pbx, ports[0], workdir, scenario="uas_held.xml", rtp=agent.port)
    third_sipp = answer(call_pbx, ports[1], third_dir, scenario="uas_held.xml", rtp=third.port)
    uac = call(
        call_pbx, "2001", "2002", workdir, scenario="uac_media_wait_bye.xml", rtp=caller.port
    )

    def api(name: str, channel: str) -> dict[str, Any]:
        return call_pbx.api(name, {"channelid": channel}, token=token)

    try:
        current = members(call_pbx, token, ["ANSWERED", "ANSWER"])
        call_id, first = current["callid"], current["members"][0]["ext"]["channelid"]
        second = current["members"][1]["ext"]["channelid"]
        added = call_pbx.api("call/add_member", {"channelid": first, "number": "2003"}, token=token)
        assert added == {"status": "Success", "callid": call_id}
        current = members(call_pbx, token, ["ANSWERED", "ANSWER", "ANSWER"])
        added_channel = current["members"][2]["ext"]["channelid"]
        phones: Phones = [
            (caller, (HOST, pbx_media_port(workdir, "caller")), CALLER_HZ),
            (agent, (HOST, pbx_media_port(workdir, "callee")), AGENT_HZ),
            (third, (HOST, pbx_media_port(third_dir, "callee")), THIRD_HZ),
        ]
        success = {"status": "Success", "callid": call_id}

        # the added member is held: the first two talk, it hears the music
        assert api("call/hold", added_channel) == success
        members(call_pbx, token, ["ANSWERED", "ANSWER", "HOLD"])
        assert api("call/hold", added_channel) == success  # held already: no change
        held_hears_music_only(phones, held=2)
        assert api("call/unhold", added_channel) == success
        members(call_pbx, token, ["ANSWERED", "ANSWER", "ANSWER"])
        everyone_hears_the_other_two(phones)

        # one of the first two (the callee) is held: the caller and the added member talk
        assert api("call/hold", second) == success
        members(call_pbx, token, ["ANSWERED", "HOLD", "ANSWER"])
        held_hears_music_only(phones, held=1)
        assert api("call/unhold", second) == success
        members(call_pbx, token, ["ANSWERED", "ANSWER", "ANSWER"])
        everyone_hears_the_other_two(phones)

        assert api("call/unhold", second) == {"status": "Failed", "errno": "10007"}  # not held
        assert api("call/hold", "PJSIP/2009-0000ffff") == {"status": "Failed", "errno": "10007"}
        assert call_pbx.api("call/hangup", {"callid": call_id}, token=token)["status"] == "Success"
        no_calls(call_pbx, token)
        uac.finish()
        uas.finish()  # each held phone checked its two re-INVITEs' directions
        third_sipp.finish()
    finally:
        for process in (uac, uas, third_sipp):
            process.kill()
        for phone in (caller, agent, third):
            phone.close()
    events = receiver.wait_for(
        lambda evs: any(e.get("event") == "NewCdr" and e.get("callid") == call_id for e in evs)
    )
    snapshots = [
        [(m["ext"]["number"], m["ext"]["memberstatus"]) for m in e["members"]]
        for e in events
        if e.get("event") == "CallStatus" and e.get("callid") == call_id
    ]
    # one snapshot per change, in the order of the changes (80 §1.5, §4.4): the answer
    # comes before the member added once the call was answered; a second hold of a
    # held party changes nothing
    talking = [("2001", "ANSWERED"), ("2002", "ANSWER")]
    everyone = [*talking, ("2003", "ANSWER")]
    assert snapshots == [
        [("2001", "ALERT"), ("2002", "RING")],
        talking,
        [*talking, ("2003", "RING")],
        everyone,
        [*talking, ("2003", "HOLD")],
        everyone,
        [("2001", "ANSWERED"), ("2002", "HOLD"), ("2003", "ANSWER")],
        everyone,
        [("2001", "BYE"), ("2002", "BYE"), ("2003", "BYE")],
    ], snapshots
    # the legacy format reports no hold: the call, the member that joined, the three BYEs
    legacy.wait_for(lambda evs: any(e.get("action") == "NewCdr" for e in evs))
    legacy.stop()
    reports = [legacy_report(body) for body in legacy.bodies]
    reports = [(a, party) for a, call_, party in reports if call_ == call_id and a != "NewCdr"]
    expected = [("ALERT", "2001"), ("RING", "2002"), ("ANSWERED", "2001"), ("ANSWER", "2002")]
    expected += [("RING", "2003"), ("ANSWER", "2003")]
    expected += [("BYE", "2001"), ("BYE", "2002"), ("BYE", "2003")]
    # in this order: one session's events are delivered as generated (80 §1.5), the
    # answer's reports before those of the member added once it was answered, the BYEs
    # of a call the API ends in member order (81 §5.2)
    assert reports == expected, reports
