"""Calls through trunks against a running PBX, with sipp as the providers and the
phones: outbound routes (pattern, strip and prepend, DOD caller ID, failover on 503
and on silence, digest and 100rel at the provider, permissions) and inbound routes
(DID, caller ID, closed hours, an IVR destination, the wrong address),
with their events and CDRs in both formats."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.digest import compute_ha1, compute_response, parse_authorization
from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import (
    Sipp,
    answer,
    call,
    pbx_media_port,
    register,
    start,
    unregister,
)
from tests.e2e.calls.rtp_phone import RtpPhone, talk
from tests.e2e.calls.sip_client import Caller
from tests.e2e.sipp.runner import SIPP
from tests.e2e.trunk_calls.provider_peer import BlackHole, OptionsResponder, ProviderPeer
from tests.harness import HOST, EventReceiver, PbxProcess, free_port
from tests.media_audio import dominant_frequency

pytestmark = pytest.mark.peers
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
TRUNK_PASSWORD = "Tr7unkPass9x"
IVR = "7301"
SECOND_HOST = "127.0.0.2"  # a second loopback address: the register trunk's provider
THIRD_HOST = "127.0.0.4"  # another register trunk's provider (127.0.0.3 gets banned)


@dataclass
class Net:
    pbx: PbxProcess
    token: str
    events: EventReceiver
    legacy: EventReceiver
    ports: dict[str, int]

    def api(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.pbx.api(endpoint, body, token=self.token)
        assert answer["status"] == "Success", (endpoint, body, answer)
        return answer

    def cdr(
        self, callto: str, receiver: EventReceiver | None = None, *, did: str = ""
    ) -> dict[str, Any]:
        """The first NewCdr to ``callto`` (and ``did``, if given), waiting for it."""
        source = receiver or self.events

        def match(event: dict[str, Any]) -> bool:
            return _cdr_match(event, callto) and (not did or event.get("didnumber") == did)

        return next(e for e in source.wait_for(lambda es: any(map(match, es))) if match(e))


CDR_FIELDS = [
    "event", "callid", "timestart", "callfrom", "callto", "callduraction", "talkduraction",
    "srctrunkname", "dsttrcunkname", "pincode", "status", "type", "recording", "didnumber",
    "agentringtime", "sn",
]  # fmt: skip
LEGACY_CDR_FIELDS = [
    "action", "callid", "timestart", "callfrom", "callto", "srctrunkname", "desttrunkname",
    "callduraction", "talkduraction", "status", "type", "pincode", "recording", "didnumber",
    "agentringtime", "sn",
]  # fmt: skip


def check_cdr_fields(cdr: dict[str, Any], legacy: dict[str, Any], wanted: dict[str, str]) -> None:
    """A NewCdr field by field in both formats: every 2.0.0 key in the spec's order,
    ``wanted`` values; the legacy one keyed by ``action``, its trunk spelled
    ``desttrunkname``, empty values left out."""
    assert list(cdr) == CDR_FIELDS, list(cdr)
    assert {k: cdr[k] for k in wanted} == wanted, cdr
    assert (cdr["pincode"], cdr["recording"], cdr["agentringtime"]) == ("", "", "0"), cdr
    assert dt.datetime.strptime(cdr["timestart"], "%Y-%m-%d %H:%M:%S")
    assert int(cdr["callduraction"]) >= int(cdr["talkduraction"]) >= 0
    renamed = {"dsttrcunkname": "desttrunkname"}
    expected = {renamed.get(k, k): v for k, v in cdr.items() if k not in ("event", "agentringtime")}
    expected = {k: v for k, v in expected.items() if v != "" or k in ("callfrom", "callto")}
    assert legacy == {"action": "NewCdr", **expected}, (legacy, expected)
    assert list(legacy) == [k for k in LEGACY_CDR_FIELDS if k in legacy], list(legacy)


def _cdr_match(event: dict[str, Any], callto: str) -> bool:
    name = event.get("event", event.get("action"))
    return name == "NewCdr" and event.get("callto") == callto


def configure(net: Net, dead_port: int) -> None:
    """The trunks and routes of the module. Each peer trunk's first OPTIONS is answered
    here and its keep-alive then switched off, so no probe reaches a test's provider."""
    ports = net.ports
    responders = [OptionsResponder(ports[name]) for name in ("prova", "busy", "carrier")]
    try:
        add_trunks(net, dead_port)
        wait_status(net, {"ProvA": "Registered", "Busy": "Registered", "Carrier": "Registered"})
    finally:
        for responder in responders:
            responder.close()
    for trunk in net.api("trunk/list", {})["trunklist"]:
        net.api("trunk/update_settings", {"id": trunk["id"], "qualify": "0"})
    add_routes(net)


def add_trunks(net: Net, dead_port: int) -> None:
    ports = net.ports
    peer = {"trunktype": "peer", "host": HOST, "domain": "provider.test"}
    net.api(
        "trunk/add_siptrunk",
        {**peer, "trunkname": "ProvA", "port": str(ports["prova"]),
         "extensionsdod": "4402100-FrontDesk-2001"},
    )  # fmt: skip
    net.api("trunk/add_siptrunk", {**peer, "trunkname": "Busy", "port": str(ports["busy"])})
    net.api("trunk/add_siptrunk", {**peer, "trunkname": "Dead", "port": str(dead_port)})
    net.api(
        "trunk/add_siptrunk",
        {"trunkname": "Carrier", "trunktype": "peer", "host": HOST,
         "port": str(ports["carrier"]), "domain": "carrier.test"},
    )  # fmt: skip

    net.api(
        "trunk/add_siptrunk",
        {"trunkname": "Acct", "trunktype": "account", "username": "77001",
         "authname": "77001", "password": TRUNK_PASSWORD},
    )  # fmt: skip


def add_routes(net: Net) -> None:
    for name, prefix, strip, prepend, trunks, extensions in [
        ("Intl", "9.", "1", "00", "ProvA", "2001,2002"),
        ("Fail503", "7.", "1", "", "Busy,ProvA", "all"),
        ("FailDead", "6.", "1", "", "Dead,ProvA", "all"),
        ("Restricted", "8.", "", "", "ProvA", "2003"),
        ("Forwards", "4.", "1", "", "ProvA", "2003"),
        ("OnlyBusy", "33.", "2", "", "Busy", "all"),
        ("OnlyDead", "34.", "2", "", "Dead", "all"),
    ]:
        body = {"name": name, "prefix": prefix, "trunks": trunks, "extensions": extensions}
        net.api("outroute/add", {**body, "strip": strip, "prepend": prepend})
    net.api("ivr/add", {"number": IVR, "ivrname": "MainMenu"})
    inbound = {"trunks": "Carrier", "desttype": "extension"}
    net.api("inroute/add", {**inbound, "name": "Vip", "did": "4402000",
                            "caller_id": "0612XXXXXX", "dest": "2003"})  # fmt: skip
    net.api("inroute/add", {**inbound, "name": "Main", "did": "4402000", "dest": "2002"})
    net.api("inroute/add", {**inbound, "name": "Closed", "did": "4402066", "desttype": "hangup"})
    net.api("inroute/add", {**inbound, "name": "Account", "trunks": "Acct", "did": "4402050",
                            "dest": "2003"})  # fmt: skip
    net.api("inroute/add", {**inbound, "name": "Menu", "did": "4402009", "desttype": "ivr",
                            "dest": IVR})  # fmt: skip
    office = net.api("inroute/add", {**inbound, "name": "Office", "did": "4402001", "dest": "2002"})
    today = dt.date.today().isoformat()
    condition = net.api(
        "timecondition/add",
        {"name": "NeverOpen", "weekly": "mon-sun 00:00-00:01", "exceptions": f"{today} closed"},
    )["id"]
    net.api(
        "inroute/set_hours",
        {"id": office["id"], "timecondition": condition, "outofhoursdesttype": "extension",
         "outofhoursdest": "2003"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    events, legacy, hole = EventReceiver().start(), EventReceiver().start(), BlackHole()
    ports = {name: free_port(udp_too=True) for name in ("prova", "busy", "carrier")}
    pbxs = call_pbx_with(tmp_path_factory, {"KILOPBX_CALL_TRUNK_TIMEOUT": "1"})
    try:
        pbx = next(pbxs)
        token = pbx.login(port=events.port)
        pbx.login_legacy(port=legacy.port)
        net = Net(pbx, token, events, legacy, ports)
        configure(net, hole.port)
        yield net
    finally:
        next(pbxs, None)
        hole.close()
        events.stop()
        legacy.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def provider(net: Net, scenario: str, port_name: str, workdir: Path, **variables: str) -> Any:
    return start(
        net.pbx,
        str(SCENARIOS / scenario),
        workdir,
        port=net.ports[port_name],
        variables={"rtp": "9", **variables},
        extra=["-trace_msg"],
    )


def wait_status(net: Net, wanted: dict[str, str], timeout: float = 15.0) -> None:
    """Poll trunk/list (bounded) until the trunks show these states."""
    deadline = time.monotonic() + timeout
    shown: dict[str, str] = {}
    while time.monotonic() < deadline:
        shown = {t["trunkname"]: t["status"] for t in net.api("trunk/list", {})["trunklist"]}
        if all(shown.get(name) == status for name, status in wanted.items()):
            return
        time.sleep(0.05)
    raise AssertionError(f"trunk states {shown}, wanted {wanted}")


def received_invite(workdir: Path, scenario: str) -> str:
    """The last INVITE a provider got, from sipp's message log."""
    logs = sorted(workdir.glob(f"{scenario.removesuffix('.xml')}_*_messages.log"))
    assert logs, list(workdir.iterdir())
    text = logs[-1].read_text(errors="replace")
    invites = [part for part in text.split("\n\n") if "INVITE sip:" in part]
    assert invites, text[-2000:]
    start = invites[-1].index("INVITE sip:")
    return invites[-1][start:]


# -- outbound --------------------------------------------------------------------------


def test_outbound_call_rewritten_with_dod_caller_id(net: Net, workdir: Path) -> None:
    prov = provider(net, "provider_answer.xml", "prova", workdir)
    try:
        call(net.pbx, "2001", "9441632960123", workdir).finish()
        prov.finish()
    finally:
        prov.kill()
    invite = received_invite(workdir, "provider_answer.xml")
    assert invite.startswith("INVITE sip:00441632960123@provider.test"), invite[:200]
    assert 'From: "FrontDesk" <sip:4402100@provider.test>' in invite, invite
    assert 'P-Asserted-Identity: "FrontDesk" <sip:4402100@provider.test>' in invite
    assert 'Remote-Party-ID: "FrontDesk" <sip:4402100@provider.test>;party=calling' in invite
    cdr = net.cdr("9441632960123")
    legacy = net.cdr("9441632960123", net.legacy)
    check_cdr_fields(cdr, legacy, {
        "callfrom": "2001", "callto": "9441632960123", "srctrunkname": "",
        "dsttrcunkname": "ProvA", "status": "ANSWERED", "type": "Outbound", "didnumber": "",
    })  # fmt: skip
    statuses = [e for e in net.events.named("CallStatus") if e["callid"] == cdr["callid"]]
    outbound = [m["outbound"] for e in statuses for m in e["members"] if "outbound" in m]
    assert outbound and outbound[0]["from"] == "2001"
    assert outbound[0]["to"] == "00441632960123" and outbound[0]["trunkname"] == "ProvA"
    assert outbound[0]["channelid"].startswith("PJSIP/trunk-ProvA-endpoint-")
    assert {m["memberstatus"] for m in outbound} >= {"RING", "ANSWER"}
    legacy_outbound = [e["outbound"] for e in net.legacy.events if "outbound" in e]
    assert legacy_outbound and legacy_outbound[0]["trunk"] == "ProvA", legacy_outbound
    assert legacy_outbound[0]["to"] == "00441632960123"


@pytest.mark.parametrize(
    ("dialled", "first"),
    [("7123456", "provider_503.xml"), ("6123456", None)],
    ids=["first-trunk-503", "first-trunk-silent"],
)
def test_failover_to_the_second_trunk(
    net: Net, workdir: Path, dialled: str, first: str | None
) -> None:
    busy = provider(net, first, "busy", workdir) if first else None
    prov = provider(net, "provider_answer.xml", "prova", workdir)
    try:
        call(net.pbx, "2002", dialled, workdir).finish()
        prov.finish()
        if busy is not None:
            busy.finish()
    finally:
        prov.kill()
        if busy is not None:
            busy.kill()
    assert received_invite(workdir, "provider_answer.xml").startswith(
        f"INVITE sip:{dialled[1:]}@provider.test"
    )
    cdr = net.cdr(dialled)
    assert cdr["dsttrcunkname"] == "ProvA" and cdr["status"] == "ANSWERED"


def test_no_trunk_taking_the_call_fails_with_the_spec_reason(net: Net, workdir: Path) -> None:
    """Every provider 503: congestion; no provider answering at all: unreachable."""
    busy = provider(net, "provider_503.xml", "busy", workdir)
    caller = Caller(net.pbx, "2001")
    try:
        assert caller.invite("33123").status == 503
        busy.finish()
        assert caller.invite("34123").status == 502
    finally:
        caller.close()
        busy.kill()

    def reasons(events: list[dict[str, Any]]) -> set[str]:
        return {e.get("reason", "") for e in events if e.get("event") == "CallFailed"}

    wanted = {"Circuit/channel congestion", "Line Unreachable"}
    net.events.wait_for(lambda events: wanted <= reasons(events))


@pytest.mark.parametrize(
    ("scenario", "host", "trunk", "prefix", "header", "realm"),
    [
        ("provider_auth_100rel.xml", SECOND_HOST, "Secure", "5", "Proxy-Authorization",
         "provider.test"),
        ("provider_auth_401.xml", THIRD_HOST, "Www", "35", "Authorization", "www.provider.test"),
    ],
    ids=["407-and-100rel", "401"],
)  # fmt: skip
def test_provider_with_digest_and_100rel_gets_credentials_and_prack(
    net: Net, workdir: Path, scenario: str, host: str, trunk: str, prefix: str, header: str,
    realm: str,
) -> None:  # fmt: skip
    """A register trunk owns every request from its provider's address, so each of
    these lives on an address of its own (the phones of the other tests are on
    127.0.0.1); it is made while its provider runs, which takes the REGISTER first.
    One provider challenges with 407 and then requires 100rel (PRACK), the other
    challenges with 401."""
    port = free_port(udp_too=True)
    command = [
        SIPP, "-i", host, "-p", str(port), "-t", "u1", "-nostdin", "-trace_err",
        "-trace_msg", "-timeout", "30s", "-timeout_error", "-m", "2",
        "-sf", str(SCENARIOS / scenario), "-set", "rtp", "9",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",  # sipp may echo a stray byte
    )
    prov = Sipp(process, port, workdir)
    username = "88017734" if trunk == "Secure" else "88017735"
    dialled = f"{prefix}5987"
    try:
        net.api(
            "trunk/add_siptrunk",
            {"trunkname": trunk, "trunktype": "register", "host": host,
             "port": str(port), "domain": "provider.test", "username": username,
             "authname": username, "password": TRUNK_PASSWORD},
        )  # fmt: skip
        net.api("outroute/add", {"name": f"Auth{trunk}", "prefix": f"{prefix}.",
                                 "strip": str(len(prefix)), "trunks": trunk,
                                 "extensions": "all"})  # fmt: skip
        wait_status(net, {trunk: "Registered"})
        uac = call(net.pbx, "2001", dialled, workdir)
        code, out = prov.outcome()
        assert code == 0, out[-3000:]  # fails on wrong credentials, no PRACK, a wrong RAck
        uac.finish()
    finally:
        prov.kill()
    assert net.cdr(dialled)["dsttrcunkname"] == trunk
    invite = received_invite(workdir, scenario)
    value = next(line for line in invite.splitlines() if line.startswith(f"{header}:"))
    credentials = parse_authorization(value.split(":", 1)[1].strip())
    assert credentials.username == username and credentials.realm == realm
    ha1 = compute_ha1(username, realm, TRUNK_PASSWORD)
    expected = compute_response(
        ha1=ha1, algorithm="MD5", method="INVITE", uri=credentials.uri, nonce=credentials.nonce,
        qop=credentials.qop, nc=credentials.nc, cnonce=credentials.cnonce,
    )  # fmt: skip
    assert credentials.response == expected


def test_outbound_refusals(net: Net) -> None:
    caller = Caller(net.pbx, "2001")
    try:
        assert caller.invite("8123").status == 403  # a route for 2003 only
        assert caller.invite("3123").status == 404  # no route at all
    finally:
        caller.close()

    def refused(events: list[dict[str, Any]]) -> bool:
        return any(e.get("reason") == "NO Outbound Restriction" for e in events)

    failed = next(e for e in net.events.wait_for(refused) if refused([e]))
    assert list(failed)[:3] == ["callid", "event", "reason"]
    assert failed["members"][0]["ext"]["number"] == "2001"
    assert net.cdr("8123")["type"] == "Outbound"


# -- inbound ---------------------------------------------------------------------------


@pytest.fixture
def callee_port(net: Net, workdir: Path) -> Iterator[int]:
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, workdir)
    yield port
    unregister(net.pbx, "2002", port, workdir)


@pytest.mark.parametrize(
    ("codec", "payload", "caller"),
    [("PCMU", 0, "0700111222"), ("PCMA", 8, "0700111228")],
    ids=["same-codec", "provider-alaw-phone-ulaw"],
)
def test_inbound_call_to_a_did_reaches_the_extension_with_audio(
    net: Net, callee_port: int, workdir: Path, codec: str, payload: int, caller: str
) -> None:
    """The phone answers PCMU; a provider offering only PCMA is transcoded by the
    same media engine as an extension call."""
    outside, phone = RtpPhone(codec, payload), RtpPhone("PCMU", 0)
    uas = answer(net.pbx, callee_port, workdir, rtp=phone.port)
    try:
        uac = start(
            net.pbx,
            str(SCENARIOS / "provider_call.xml"),
            workdir,
            port=net.ports["carrier"],
            variables={"caller": caller, "rtp": str(outside.port), "pts": str(payload)},
            extra=["-s", "4402000", "-d", "3000"],
        )
        to_outside = (HOST, pbx_media_port(workdir, "caller"))
        to_phone = (HOST, pbx_media_port(workdir, "callee"))
        talk(outside, to_outside, phone, to_phone, a_hz=1000, b_hz=500)
        uac.finish()
        uas.finish()
    finally:
        uas.kill()
        outside.close()
        phone.close()
    assert 450 < dominant_frequency(outside.decoded(), outside.rate) < 550
    assert 950 < dominant_frequency(phone.decoded(), phone.rate) < 1050

    def from_caller(event: dict[str, Any]) -> bool:
        return _cdr_match(event, "2002") and event.get("callfrom") == caller

    cdr = next(e for e in net.events.wait_for(lambda es: any(map(from_caller, es)))
               if from_caller(e))  # fmt: skip
    legacy = next(e for e in net.legacy.wait_for(lambda es: any(map(from_caller, es)))
                  if from_caller(e))  # fmt: skip
    check_cdr_fields(cdr, legacy, {
        "callfrom": caller, "callto": "2002", "srctrunkname": "Carrier",
        "dsttrcunkname": "", "status": "ANSWERED", "type": "Inbound", "didnumber": "4402000",
    })  # fmt: skip
    statuses = [e for e in net.events.named("CallStatus") if e["callid"] == cdr["callid"]]
    inbound = [m["inbound"] for e in statuses for m in e["members"] if "inbound" in m]
    assert inbound and inbound[0]["from"] == caller and inbound[0]["to"] == "4402000"
    assert inbound[0]["trunkname"] == "Carrier"
    assert inbound[0]["channelid"].startswith("PJSIP/trunk-Carrier-endpoint-")
    assert {m["memberstatus"] for m in inbound} >= {"ALERT", "ANSWERED"}
    assert "2002" in {m["ext"]["number"] for e in statuses for m in e["members"] if "ext" in m}
    legacy_inbound = [
        e["inbound"] for e in net.legacy.events
        if "inbound" in e and e["inbound"].get("inboundid") == cdr["callid"]
    ]  # fmt: skip
    assert legacy_inbound, net.legacy.events
    assert {"from": caller, "to": "4402000", "trunk": "Carrier"}.items() <= (
        legacy_inbound[0].items()
    ), legacy_inbound


def test_inbound_routes_pick_their_destinations(net: Net) -> None:
    peer = ProviderPeer(net.pbx, net.ports["carrier"])
    try:
        # the caller-ID route and the closed-hours route send to 2003 (not registered)
        assert peer.invite("4402000", "0612345678").status == 480
        assert peer.invite("4402001", "0700000001").status == 480
        assert peer.invite("4402009", "0700000002").status == 200  # the IVR answers
        assert peer.invite("4402999", "0700000003").status == 404
        assert peer.invite("4402066", "0700000004").status == 603  # a "hangup" route
    finally:
        peer.close()
    vip = net.cdr("2003")
    assert vip["didnumber"] in ("4402000", "4402001") and vip["type"] == "Inbound"

    def both(events: list[dict[str, Any]]) -> bool:
        dids = {e.get("didnumber") for e in events if _cdr_match(e, "2003")}
        return {"4402000", "4402001"} <= dids

    net.events.wait_for(both)
    callers = {e["didnumber"]: e["callfrom"] for e in net.events.named("NewCdr")}
    assert callers["4402000"] == "0612345678" and callers["4402001"] == "0700000001"


def test_call_claiming_a_trunk_from_a_wrong_address_is_refused(net: Net) -> None:
    intruder = ProviderPeer(net.pbx)  # the right host, another port
    try:
        assert intruder.invite("4402000", "0700000009", from_host="carrier.test").status == 403
    finally:
        intruder.close()


# -- call/dial and forwarding to numbers outside -------------------------------------------


def test_call_dial_to_an_outside_number_goes_through_the_routes(net: Net, workdir: Path) -> None:
    port = free_port(udp_too=True)
    register(net.pbx, "2001", port, workdir)
    # the provider hangs up once it answered: a phone hanging up on its own timer
    # would race the provider's answer and cancel the call on a slow machine
    phone = answer(net.pbx, port, workdir)
    prov = provider(net, "provider_answer_hangup.xml", "prova", workdir)
    try:
        answer_ = net.api("call/dial", {"caller": "2001", "callee": "9555000111"})
        prov.finish()
        phone.finish()
    finally:
        phone.kill()
        prov.kill()
        unregister(net.pbx, "2001", port, workdir)
    assert received_invite(workdir, "provider_answer_hangup.xml").startswith(
        "INVITE sip:00555000111@provider.test"
    )
    cdr = net.cdr("9555000111")
    assert cdr["callid"] == answer_["callid"] and cdr["type"] == "Outbound"
    assert cdr["dsttrcunkname"] == "ProvA" and cdr["status"] == "ANSWERED"
    refused = net.pbx.api("call/dial", {"caller": "2003", "callee": "9555000111"}, token=net.token)
    assert refused == {"status": "Failed", "errno": "10024"}
    unknown = net.pbx.api("call/dial", {"caller": "2003", "callee": "01234"}, token=net.token)
    assert unknown == {"status": "Failed", "errno": "10031"}


def test_forwarding_to_a_number_goes_out_through_the_routes(net: Net, workdir: Path) -> None:
    forward = {"number": "2003", "alwaysforward": "on", "atransferto": "Custom Number"}
    net.api("extension/update", {**forward, "atransfernum": "4777888"})
    prov = provider(net, "provider_answer.xml", "prova", workdir)
    try:
        call(net.pbx, "2001", "2003", workdir).finish()
        prov.finish()
    finally:
        prov.kill()
        net.api("extension/update", {"number": "2003", "alwaysforward": "off"})
    assert received_invite(workdir, "provider_answer.xml").startswith(
        "INVITE sip:777888@provider.test"
    )
    forwards = [e for e in net.events.named("Forward")]
    assert forwards and forwards[-1]["members"][0]["ext"]["number"] == "2001"


def test_account_trunk_calls_authenticate_with_the_trunks_credentials(net: Net) -> None:
    account = Caller(net.pbx, "77001", password=TRUNK_PASSWORD)
    try:
        assert account.invite("4402050").status == 480  # routed: 2003 is not registered
    finally:
        account.close()
    cdr = net.cdr("2003", did="4402050")
    assert (cdr["srctrunkname"], cdr["type"], cdr["callto"]) == ("Acct", "Inbound", "2003")
    intruder = Caller(net.pbx, "77001", password="wrong")
    try:
        assert intruder.invite("4402050").status == 403
    finally:
        intruder.close()
