"""An IVR that lets callers dial out (`dialoutboundroutes` on, `selectedrouters`
naming its routes): 2003, whom the "Intl" route does not permit, keys a number into
the IVR (as SIP INFO) and the call leaves through "Intl" to the provider, rewritten
by the route; a number only another route matches is refused with the "not
available" prompt and a hang-up. The trunks and routes are those of
`test_trunk_calls`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.rtp_phone import RtpPhone
from tests.e2e.ivr.test_ivr_audio import DialogCaller, media_port
from tests.e2e.ivr.test_voicemail_deposit import answer_bye
from tests.e2e.ivr.test_voicemail_menu import Listener
from tests.e2e.trunk_calls import test_trunk_calls as base
from tests.e2e.trunk_calls.test_trunk_calls import IVR, Net, provider, received_invite
from tests.harness import HOST

pytestmark = pytest.mark.peers
net = base.net  # the module's own PBX with the same trunks and routes
workdir = base.workdir


def outbound_answered(events: list[dict[str, Any]]) -> bool:
    return any(
        m.get("outbound", {}).get("memberstatus") == "ANSWER"
        for e in events
        if e.get("event") == "CallStatus"
        for m in e.get("members", [])
    )


def test_an_ivr_lets_callers_dial_out_through_its_routes(net: Net, workdir: Path) -> None:
    settings = {"number": IVR, "dialoutboundroutes": "on", "selectedrouters": "Intl",
                "responsetimeout": "3", "digittimeout": "2", "promptrepeat": "1"}  # fmt: skip
    net.api("ivr/update", settings)
    prov = provider(net, "provider_answer.xml", "prova", workdir)
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(net.pbx, "2003")
    try:
        listener = Listener(caller, phone, (HOST, media_port(caller.answered(IVR, phone.port))))
        listener.send(0.0, 300)
        listener.keys("9441632960123#")
        net.events.wait_for(outbound_answered)
        assert caller.in_dialog("BYE") == 200
        prov.finish()
    finally:
        prov.kill()
        caller.close()
        phone.close()
    invite = received_invite(workdir, "provider_answer.xml")
    assert invite.startswith("INVITE sip:00441632960123@provider.test"), invite[:200]
    cdr = net.cdr("9441632960123")
    assert cdr["callfrom"] == "2003" and cdr["status"] == "ANSWERED"
    assert cdr["type"] == "Outbound" and cdr["dsttrcunkname"] == "ProvA"
    # a number that only a route the IVR does not name matches: refused, hung up
    phone = RtpPhone("PCMU", 0)
    caller = DialogCaller(net.pbx, "2001")
    try:
        listener = Listener(caller, phone, (HOST, media_port(caller.answered(IVR, phone.port))))
        listener.send(0.0, 300)
        listener.keys("4777888#")
        answer_bye(caller)
    finally:
        caller.close()
        phone.close()
    net.api("ivr/update", {"number": IVR, "dialoutboundroutes": "off"})
