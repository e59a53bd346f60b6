"""Routing and interop details of calls through trunks, against a running PBX with
sipp and small Python peers as the providers: early media from a provider before it
answers, a trunk with no free channel skipped, the order of outbound routes, the DID
read from the To header, business hours, a destination kind nothing takes yet, and
the ban earned by calls claiming a trunk from elsewhere.

The PBX and its trunks and routes are those of ``test_trunk_calls`` (its fixtures,
one more PBX for this module)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.peers import call, pbx_media_port
from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.trunk_calls import test_trunk_calls as base
from tests.e2e.trunk_calls.provider_peer import ProviderPeer
from tests.e2e.trunk_calls.test_trunk_calls import Net, provider, received_invite
from tests.harness import HOST
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers
# the fixtures of test_trunk_calls (module-scoped: this module gets a PBX of its own)
net, workdir = base.net, base.workdir


# -- outbound --------------------------------------------------------------------------


def wait_file(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)


def test_early_media_from_the_provider_reaches_the_caller_before_the_answer(
    net: Net, workdir: Path
) -> None:
    """The provider answers 183 with SDP and plays 1 kHz from its own RTP socket for
    a second; the caller hears it while the provider has not answered yet."""
    far, near = RtpPhone("PCMU", 0), RtpPhone("PCMU", 0)
    prov = provider(net, "provider_early_media.xml", "prova", workdir, rtp=str(far.port))
    try:
        uac = call(
            net.pbx, "2001", "9441632960777", workdir,
            scenario="uac_early.xml", pts="0", rtp=near.port, talk_ms=300,
        )  # fmt: skip
        to_pbx = (HOST, pbx_media_port(workdir, "callee"))
        wait_file(workdir / "pbx-early-caller.txt")  # the caller got the 183 with SDP
        frames = far.frames(1000, 1000)
        begin = time.monotonic()
        for index, payload in enumerate(frames):
            far.send(to_pbx, payload, index)
            near.drain()
            pause = begin + (index + 1) * 0.02 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:
            near.drain()
            time.sleep(0.02)
        heard_before_answer = list(near.received)
        answered_already = (workdir / "provider-answered.txt").exists()
        uac.finish()
        prov.finish()
    finally:
        prov.kill()
        far.close()
        near.close()
    assert not answered_already, "the provider answered before the tone was over"
    assert len(heard_before_answer) >= 25, len(heard_before_answer)  # of 50 frames sent
    near.received = heard_before_answer
    assert 950 < dominant_frequency(near.decoded(), near.rate) < 1050
    cdr = net.cdr("9441632960777")
    assert cdr["dsttrcunkname"] == "ProvA" and cdr["status"] == "ANSWERED"


def trunk_id(net: Net, name: str) -> str:
    return str(next(t["id"] for t in net.api("trunk/list", {})["trunklist"]
                    if t["trunkname"] == name))  # fmt: skip


def wait_outbound_on(net: Net, trunk: str, timeout: float = 10.0) -> None:
    """Poll call/query (bounded) until a call through ``trunk`` is answered."""
    deadline = time.monotonic() + timeout
    while True:
        calls = net.api("call/query", {"type": "outbound"})["calls"]
        members = [m["outbound"] for c in calls for m in c["members"] if "outbound" in m]
        if any(m["trunkname"] == trunk and m["memberstatus"] == "ANSWER" for m in members):
            return
        assert time.monotonic() < deadline, calls
        time.sleep(0.05)


def test_a_trunk_with_no_free_channel_is_skipped_for_the_next(net: Net, workdir: Path) -> None:
    """Busy may carry one call: while it does, the route's next trunk takes the next."""
    busy = trunk_id(net, "Busy")
    net.api("trunk/update_settings", {"id": busy, "maxchannels": "1"})
    held, second = workdir / "held", workdir / "second"
    held.mkdir()
    second.mkdir()
    holder = provider(net, "provider_answer.xml", "busy", held)
    prov = provider(net, "provider_answer.xml", "prova", second)
    try:
        first = call(net.pbx, "2001", "7100001", held, talk_ms=4000)
        wait_outbound_on(net, "Busy")
        call(net.pbx, "2002", "7100002", second).finish()
        prov.finish()
        first.finish()
        holder.finish()
    finally:
        net.api("trunk/update_settings", {"id": busy, "maxchannels": "0"})
        prov.kill()
        holder.kill()
    assert received_invite(second, "provider_answer.xml").startswith(
        "INVITE sip:100002@provider.test"
    )
    log = next(held.glob("provider_answer_*_messages.log")).read_text(errors="replace")
    assert log.count("INVITE sip:100002@") == 0 and log.count("INVITE sip:100001@") == 1
    assert net.cdr("7100002")["dsttrcunkname"] == "ProvA"
    assert net.cdr("7100001")["dsttrcunkname"] == "Busy"


def test_the_first_matching_route_in_evaluation_order_takes_the_call(
    net: Net, workdir: Path
) -> None:
    """16777 matches a wide route (1., strip 1) made first and a narrow one (16.,
    strip 2) made after it: the wide one rewrites the call until the narrow one is
    moved before it (outroute/set_order)."""
    for name, prefix in (("OrderWide", "1."), ("OrderNarrow", "16.")):
        net.api("outroute/add", {"name": name, "prefix": prefix, "strip": str(len(prefix) - 1),
                                 "trunks": "ProvA", "extensions": "all"})  # fmt: skip
    sent = []
    for attempt in ("wide", "narrow"):
        if attempt == "narrow":
            routes = net.api("outroute/query", {"id": "all"})["outroutes"]
            narrow = next(r["id"] for r in routes if r["name"] == "OrderNarrow")
            order = [narrow, *(r["id"] for r in routes if r["id"] != narrow)]
            net.api("outroute/set_order", {"id": ",".join(order)})
        folder = workdir / attempt
        folder.mkdir()
        prov = provider(net, "provider_answer.xml", "prova", folder)
        try:
            call(net.pbx, "2001", "16777", folder).finish()
            prov.finish()
        finally:
            prov.kill()
        sent.append(received_invite(folder, "provider_answer.xml").split(" ", 2)[1])
    assert sent == ["sip:6777@provider.test", "sip:777@provider.test"], sent


# -- inbound ---------------------------------------------------------------------------


def test_the_did_comes_from_the_to_header_as_the_trunk_says(net: Net) -> None:
    """4402066 is the "hangup" route's DID (603); any other number has no route (404)."""
    carrier = next(t["id"] for t in net.api("trunk/list", {})["trunklist"]
                   if t["trunkname"] == "Carrier")  # fmt: skip
    peer = ProviderPeer(net.pbx, net.ports["carrier"])
    try:
        # no number in the Request-URI (a provider calling our Contact): the To's is the DID
        assert peer.invite("4402066", "0700000061", uri_user="kilopbx").status == 603
        # a number in the Request-URI that is not the DID: without declarations it counts
        assert peer.invite("4402066", "0700000062", uri_user="4400000").status == 404
        # the trunk declares its DIDs: the To header carries the declared one
        net.api("trunk/update_siptrunk", {"id": carrier, "trunktype": "peer",
                                          "didsetting": "Closed-4402066"})  # fmt: skip
        try:
            # (a trunk change reaches the trunks' runtime a moment after the answer)
            deadline = time.monotonic() + 10
            while peer.invite("4402066", "0700000063", uri_user="4400000").status != 603:
                assert time.monotonic() < deadline, "the declared DIDs were not used"
                time.sleep(0.1)
        finally:
            net.api("trunk/update_siptrunk", {"id": carrier, "trunktype": "peer",
                                              "didsetting": ""})  # fmt: skip
    finally:
        peer.close()

    def declared(event: dict[str, Any]) -> bool:  # the call that took the declared DID
        facts = (event.get("event"), event.get("callfrom"), event.get("didnumber"))
        return facts == ("NewCdr", "0700000063", "4402066")

    cdr = next(e for e in net.events.wait_for(lambda es: any(map(declared, es))) if declared(e))
    assert (cdr["didnumber"], cdr["srctrunkname"], cdr["type"]) == ("4402066", "Carrier", "Inbound")


def test_business_hours_send_open_and_closed_calls_their_own_ways(net: Net) -> None:
    """A route open all week rings its extension; the same hours with a holiday
    today send the call to the out-of-hours destination (a hang-up: 603)."""
    today = dt.date.today().isoformat()
    week = "mon-sun 00:00-24:00"
    holiday = {"name": "HolidayToday", "weekly": week, "exceptions": f"{today} closed"}
    conditions = {
        "4402081": net.api("timecondition/add", {"name": "AllWeek", "weekly": week})["id"],
        "4402082": net.api("timecondition/add", holiday)["id"],
    }
    for did, condition in conditions.items():
        route = net.api("inroute/add", {"name": f"Hours{did}", "trunks": "Carrier", "did": did,
                                        "desttype": "extension", "dest": "2002"})  # fmt: skip
        net.api("inroute/set_hours", {"id": route["id"], "timecondition": condition,
                                      "outofhoursdesttype": "hangup"})  # fmt: skip
    peer = ProviderPeer(net.pbx, net.ports["carrier"])
    try:
        assert peer.invite("4402081", "0700000081").status == 480  # 2002 rung: not registered
        assert peer.invite("4402082", "0700000082").status == 603  # closed: hung up
    finally:
        peer.close()
    rung = net.cdr("2002", did="4402081")
    assert (rung["callfrom"], rung["srctrunkname"]) == ("0700000081", "Carrier")


def test_a_destination_nothing_takes_yet_is_refused_clearly(net: Net) -> None:
    """A route to a kind of destination no feature takes (fax to e-mail): 480 with a
    Reason saying so, CallFailed with the spec's reason, and the CDR; never silence."""
    net.api("inroute/add", {"name": "Fax", "trunks": "Carrier", "did": "4402077",
                            "desttype": "faxtoemail", "dest": "2003"})  # fmt: skip
    peer = ProviderPeer(net.pbx, net.ports["carrier"])
    try:
        refused = peer.invite("4402077", "0700000077")
    finally:
        peer.close()
    assert refused.status == 480
    reason = refused.headers.get("Reason") or ""
    assert reason.startswith("SIP;cause=480;") and "faxtoemail destinations are not" in reason

    def is_failed(event: dict[str, Any]) -> bool:
        return event.get("event") == "CallFailed" and any(
            m.get("inbound", {}).get("from") == "0700000077" for m in event.get("members", [])
        )

    failed = next(e for e in net.events.wait_for(lambda es: any(map(is_failed, es)))
                  if is_failed(e))  # fmt: skip
    assert failed["reason"] == "480 Temporatily Unavailable"
    [inbound] = [m["inbound"] for m in failed["members"] if "inbound" in m]
    assert (inbound["to"], inbound["trunkname"]) == ("4402077", "Carrier")

    def is_cdr(event: dict[str, Any]) -> bool:
        return event.get("event") == "NewCdr" and event.get("callid") == failed["callid"]

    cdr = next(e for e in net.events.wait_for(lambda es: any(map(is_cdr, es))) if is_cdr(e))
    assert (cdr["type"], cdr["srctrunkname"], cdr["didnumber"]) == ("Inbound", "Carrier", "4402077")
    assert cdr["callfrom"] == "0700000077" and cdr["status"] != "ANSWERED"

    def legacy_failed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e for e in events
            if e.get("action") == "CallFailed" and e.get("callid") == failed["callid"]
        ]  # fmt: skip

    [legacy] = legacy_failed(net.legacy.wait_for(lambda es: bool(legacy_failed(es))))
    assert legacy["reason"] == "480 Temporatily Unavailable"
    assert legacy["inbound"]["trunk"] == "Carrier" and legacy["inbound"]["to"] == "4402077"


INTRUDER_HOST = "127.0.0.3"  # its own loopback address: its ban hurts no other test
BAN_FAILURES = 10  # the PBX's default (KILOPBX_SIP_BAN_FAILURES)


def test_calls_claiming_a_trunk_from_elsewhere_lead_to_a_ban(net: Net) -> None:
    """Each refused claim is a strike against the sender's address, like a wrong
    password: after BAN_FAILURES of them it is not answered any more."""
    intruder = ProviderPeer(net.pbx, host=INTRUDER_HOST)
    try:
        for attempt in range(BAN_FAILURES):
            answer_ = intruder.invite("4402000", f"07000001{attempt:02d}", from_host="carrier.test")
            assert answer_.status == 403, attempt
        assert intruder.invite_unanswered("4402000", "0700000199", from_host="carrier.test")
    finally:
        intruder.close()
    # the ban is the intruder's alone: the real provider's calls still get through
    peer = ProviderPeer(net.pbx, net.ports["carrier"])
    try:
        assert peer.invite("4402066", "0700000198").status == 603  # the "hangup" route
    finally:
        peer.close()
    assert f"banning {INTRUDER_HOST}" in net.pbx.log_path.read_text(errors="replace")
