"""Caller-ID presentation and application destinations of trunk calls, against a
running PBX with sipp providers: an extension that hides its number (RFC 3323
``Privacy: id``, anonymous From, P-Asserted-Identity kept for the provider), a trunk
that sends only some identity headers, and inbound routes to an IVR (answered, its
prompt's RTP flowing, a key routing on to an extension, the caller's events in every
format) and to a voicemail box.

The PBX and its trunks and routes are those of ``test_trunk_calls`` (its fixtures,
one more PBX for this module)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.event_fields import Pairs, keys, ordered, value
from tests.e2e.calls.peers import answer, call, pbx_media_port, start
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.ivr.caller import call_ivr, press_pcap, scenario, sipp_pcap
from tests.e2e.trunk_calls import test_trunk_calls as base
from tests.e2e.trunk_calls.provider_peer import ProviderPeer
from tests.e2e.trunk_calls.test_trunk_calls import IVR, SCENARIOS, Net, provider, received_invite
from tests.harness import HOST, EventReceiver
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers
# the fixtures of test_trunk_calls (module-scoped: this module gets a PBX of its own)
net, callee_port, workdir = base.net, base.callee_port, base.workdir


def failed(net: Net, endpoint: str, body: dict[str, Any]) -> str:
    answer_ = net.pbx.api(endpoint, body, token=net.token)
    assert answer_["status"] == "Failed", answer_
    return str(answer_["errno"])


def test_privacy_settings_are_validated(net: Net) -> None:
    assert failed(net, "extension/privacy/update", {"number": "2001", "hidenumber": "maybe"}) == (
        "10017"
    )
    assert failed(net, "extension/privacy/update", {"number": "2999", "hidenumber": "on"}) == (
        "10006"
    )
    assert failed(net, "extension/privacy/update", {"hidenumber": "on"}) == "10004"
    trunk = net.api("trunk/list", {})["trunklist"][0]["id"]
    for bad in ("xyz", "pai,pai", "pai;rpid", "x" * 5000):
        body = {"id": trunk, "identityheaders": bad}
        assert failed(net, "trunk/update_settings", body) == "10926", bad
    settings = net.api("trunk/query_settings", {"id": trunk})["trunksettings"][0]
    assert settings["identityheaders"] == "pai,rpid"
    assert net.api("extension/privacy/query", {})["hidden"] == ""


def test_hidden_number_goes_out_anonymous_with_the_identity_the_trunk_sends(
    net: Net, workdir: Path
) -> None:
    trunks = {t["trunkname"]: t["id"] for t in net.api("trunk/list", {})["trunklist"]}
    net.api("extension/privacy/update", {"number": "2002", "hidenumber": "on"})
    net.api("trunk/update_settings", {"id": trunks["ProvA"], "identityheaders": "pai"})
    try:
        assert net.api("extension/privacy/query", {})["hidden"] == "2002"
        prov = provider(net, "provider_answer.xml", "prova", workdir)
        try:
            call(net.pbx, "2002", "9441632960777", workdir).finish()
            prov.finish()
        finally:
            prov.kill()
    finally:
        net.api("extension/privacy/update", {"number": "all", "hidenumber": "off"})
        net.api("trunk/update_settings", {"id": trunks["ProvA"], "identityheaders": "pai,rpid"})
    invite = received_invite(workdir, "provider_answer.xml")
    assert invite.startswith("INVITE sip:00441632960777@provider.test"), invite[:200]
    assert 'From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=' in invite, invite
    assert "\nPrivacy: id" in invite
    assert 'P-Asserted-Identity: "User 2002" <sip:2002@provider.test>' in invite
    assert "Remote-Party-ID" not in invite
    assert "2002" not in invite.split("\nFrom:")[1].split("\n")[0]


def test_inbound_route_to_an_ivr_answers_plays_and_routes_a_key(
    net: Net, callee_port: int, workdir: Path
) -> None:
    keys = [{"key": "1", "desttype": "extension", "dest": "2002"}]
    net.api("ivr/update_destinations", {"number": IVR, "keys": keys})
    well_formed = EventReceiver().start()  # legacy 1.0.2: parties in a `call` array
    net.pbx.login_legacy(port=well_formed.port, version="1.0.2")
    outside, phone = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    uas = answer(net.pbx, callee_port, workdir, rtp=phone.port)
    try:
        uac = start(
            net.pbx,
            str(SCENARIOS / "provider_call.xml"),
            workdir,
            port=net.ports["carrier"],
            variables={"caller": "0700333444", "rtp": str(outside.port), "pts": "0"},
            extra=["-s", "4402009", "-d", "5000"],
        )
        to_outside = (HOST, pbx_media_port(workdir, "caller"))
        silence = outside.frames(0, 600)
        deadline = time.monotonic() + 5
        index = 0
        while not outside.received and time.monotonic() < deadline:  # the prompt
            outside.send(to_outside, silence[index % len(silence)], index)
            outside.drain()
            index += 1
            time.sleep(0.02)
        assert outside.received, "no prompt RTP from the IVR"
        outside.send_digit(to_outside, 1, index)
        to_phone = (HOST, pbx_media_port(workdir, "callee"))
        # the callee answers while this first burst runs; the second one is measured
        talk(outside, to_outside, phone, to_phone, a_hz=1000, b_hz=500, milliseconds=600)
        outside.received.clear()
        phone.received.clear()
        talk(outside, to_outside, phone, to_phone, a_hz=1000, b_hz=500)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
        outside.close()
        phone.close()
    assert 450 < dominant_frequency(outside.decoded(), outside.rate) < 550
    assert 950 < dominant_frequency(phone.decoded(), phone.rate) < 1050
    cdr = net.cdr("2002", did="4402009")
    assert (cdr["callfrom"], cdr["type"], cdr["srctrunkname"]) == (
        "0700333444",
        "Inbound",
        "Carrier",
    )
    try:
        check_ivr_caller_events(net, well_formed, cdr["callid"])
    finally:
        well_formed.stop()


def check_ivr_caller_events(net: Net, well_formed: EventReceiver, call_id: str) -> None:
    """The provider's caller answered by IVR 7301, then connected to 2002, which it
    hangs up on: in 2.0.0 its ``inbound`` member carries ``callpath`` 7301 as 2002's
    does (80 §2.5, external members too) and stays ``inbound`` in its BYE; the legacy
    reports (plain and 1.0.2) name it by its ``inbound`` object every time, with no
    ``callpath`` anywhere (81 §2.2)."""
    v2 = [ordered(b) for b in net.events.bodies]
    statuses = [
        [_v2_member(m) for m in value(e, "members")]
        for e in v2
        if value(e, "event") == "CallStatus" and value(e, "callid") == call_id
    ]
    caller = ("inbound", "0700333444", "4402009", "Carrier")
    assert statuses == [
        [(*caller, "ANSWERED", IVR)],  # the IVR answered
        [(*caller, "ALERT", IVR), ("ext", "2002", "RING", IVR)],
        [(*caller, "ANSWERED", IVR), ("ext", "2002", "ANSWER", IVR)],
        [(*caller, "BYE", IVR), ("ext", "2002", "ANSWER", IVR)],
        [("ext", "2002", "BYE", IVR)],
    ]
    inbound = ("inbound", "0700333444", "4402009", "Carrier", call_id)
    ext = ("ext", "2002")
    expected = [
        ("ALERT", inbound), ("ANSWERED", inbound),  # the IVR answered
        ("PlayPromptEnd", inbound), ("DTMF", inbound),
        ("ALERT", inbound), ("RING", ext, inbound), ("ANSWERED", inbound, ext),
        ("ANSWER", ext, inbound), ("BYE", inbound, ext), ("BYE", ext, inbound),
        ("NewCdr",),
    ]  # fmt: skip
    for receiver, form in ((net.legacy, "plain"), (well_formed, "1.0.2")):
        # each receiver gets its reports on its own: wait for this call's NewCdr in each
        receiver.wait_for(lambda _, receiver=receiver: _has_cdr(receiver, call_id))
        reports = [ordered(b) for b in receiver.bodies]
        mine = [r for r in reports if value(r, "callid") == call_id]
        assert [_legacy_report(r, form) for r in mine] == expected, form
        assert all("callpath" not in json.dumps(r) for r in mine)


def _v2_member(member: Pairs) -> tuple[str, ...]:
    ((kind, fields),) = member
    if kind == "ext":
        assert keys(fields) == ["number", "channelid", "memberstatus", "callpath"], fields
        return (kind, value(fields, "number"), value(fields, "memberstatus"),
                value(fields, "callpath"))  # fmt: skip
    assert kind == "inbound"
    wanted = ["from", "to", "trunkname", "channelid", "memberstatus", "callpath"]
    assert keys(fields) == wanted, fields
    return (kind, *(value(fields, k) for k in ("from", "to", "trunkname", "memberstatus",
                                               "callpath")))  # fmt: skip


def _has_cdr(receiver: EventReceiver, call_id: str) -> bool:
    reports = (ordered(body) for body in list(receiver.bodies))
    return any(value(r, "callid") == call_id and value(r, "action") == "NewCdr" for r in reports)


def _legacy_report(report: Pairs, form: str) -> tuple[Any, ...]:
    """(action, *parties) of one legacy report, each party as (kind, *values); the
    party container checked for the format (81 §1.1: NewCdr has none)."""
    action = value(report, "action")
    assert keys(report)[:2] == ["action", "callid"] and keys(report)[-1] == "sn"
    if action == "NewCdr":
        return (action,)
    parties = [(k, v) for k, v in report if k in ("ext", "inbound", "call")]
    if form == "1.0.2":
        ((name, array),) = parties
        assert name == "call" and isinstance(array, list), report
        parties = [element[0] for element in array if len(element) == 1]
        assert len(parties) == len(array), report
    out: list[tuple[str, ...]] = []
    for kind, fields in parties:
        wanted = ["extid"] if kind == "ext" else ["from", "to", "trunk", "inboundid"]
        assert keys(fields) == wanted, report
        out.append((kind, *(value(fields, k) for k in wanted)))
    return (action, *out)


def test_inbound_route_to_a_voicemail_box_is_answered(net: Net) -> None:
    net.api(
        "inroute/add",
        {"name": "Box", "trunks": "Carrier", "did": "4402010", "desttype": "voicemail",
         "dest": "2003"},
    )  # fmt: skip
    peer = ProviderPeer(net.pbx, net.ports["carrier"])
    try:
        closed = peer.invite("4402010", "0700000010")  # 2003's voicemail is off
        assert closed.status == 480
        assert "voicemail destinations are not available" in (closed.headers.get("Reason") or "")
        net.api("extension/update", {"number": "2003", "hasvoicemail": "on"})
        answered = peer.invite("4402010", "0700000011")
        assert answered.status == 200, answered.headers.get("Reason")
    finally:
        peer.close()
        net.api("extension/update", {"number": "2003", "hasvoicemail": "off"})

    def answered_cdr(event: dict[str, Any]) -> bool:
        return event.get("event") == "NewCdr" and event.get("callfrom") == "0700000011"

    cdr = next(e for e in net.events.wait_for(lambda es: any(map(answered_cdr, es)))
               if answered_cdr(e))  # fmt: skip
    assert (cdr["type"], cdr["srctrunkname"], cdr["didnumber"]) == ("Inbound", "Carrier", "4402010")
    assert cdr["status"] == "ANSWERED"


def test_route_pin_is_asked_before_the_call_goes_out(net: Net, workdir: Path) -> None:
    route = net.api(
        "outroute/add",
        {"name": "Pinned", "prefix": "5.", "strip": "1", "prepend": "", "trunks": "ProvA",
         "extensions": "all"},
    )["id"]  # fmt: skip
    net.api("outroute/update_options", {"id": route, "pin": "42"})
    keys = [press_pcap(sipp_pcap(key)) for key in "42#"]
    prov = provider(net, "provider_answer.xml", "prova", workdir)
    try:
        right = call_ivr(net.pbx, "2001", "5441632960555", workdir, scenario("2001", keys,
                         connected=True))  # fmt: skip
        right.finish()
        prov.finish()
    finally:
        prov.kill()
    invite = received_invite(workdir, "provider_answer.xml")
    assert invite.startswith("INVITE sip:441632960555@provider.test"), invite[:200]
    cdr = net.cdr("5441632960555")
    assert (cdr["type"], cdr["dsttrcunkname"], cdr["status"]) == ("Outbound", "ProvA", "ANSWERED")

    # as many keys as the PIN has: checked at once, then the PBX hangs up
    wrong = [press_pcap(sipp_pcap("1")), press_pcap(sipp_pcap("3"), 0)]
    call_ivr(net.pbx, "2002", "5441632960666", workdir, scenario("2002", wrong,
             connected=False)).finish()  # fmt: skip

    def refused(event: dict[str, Any]) -> bool:
        return event.get("event") == "CallFailed" and any(
            m.get("ext", {}).get("number") == "2002" for m in event.get("members", [])
        )

    failed = next(e for e in net.events.wait_for(lambda es: any(map(refused, es))) if refused(e))
    assert failed["reason"] == "NO Outbound Restriction"
    assert net.cdr("5441632960666")["type"] == "Outbound"


def test_a_recorded_route_records_its_calls(net: Net, workdir: Path) -> None:
    route = net.api(
        "outroute/add",
        {"name": "Taped", "prefix": "1.", "strip": "1", "prepend": "", "trunks": "ProvA",
         "extensions": "all"},
    )["id"]  # fmt: skip
    net.api("outroute/update_options", {"id": route, "record": "yes"})
    prov = provider(net, "provider_answer.xml", "prova", workdir)
    try:
        call(net.pbx, "2001", "1441632960888", workdir, talk_ms=800).finish()
        prov.finish()
    finally:
        prov.kill()
    cdr = net.cdr("1441632960888")
    assert cdr["type"] == "Outbound" and cdr["recording"].endswith(".wav"), cdr
