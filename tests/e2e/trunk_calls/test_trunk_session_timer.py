"""Session timers (RFC 4028) on trunk legs, and the 422 retry, against a running PBX
with sipp as the providers and phones.

Outbound: the PBX's INVITE to a provider offers the session interval (``[calls]
session_expires``, 90 s here, the least RFC 4028 allows) and the provider's 200
decides who refreshes: the PBX re-INVITEs the provider at half the interval when it
is the refresher, and hangs both legs up when a provider that is to refresh never
does. Inbound: a provider that names the PBX the refresher (``refresher=uas``) keeps
that in the 200 and gets the PBX's re-INVITE at half the interval. A callee, phone
or provider, that answers 422 gets the INVITE once more asking for its ``Min-SE``
(§7.4), with credentials again when the provider had challenged; a provider's
INVITE asking for less than our minimum gets 422 with ``Min-SE``. A provider's call
that an IVR answers gets the timer in the IVR's 200 already, and keeps it when the
IVR hands it to an extension.

A provider that is to refresh (as callee or as caller) and never does has both legs
hung up at the interval less ``min(32, interval / 3)``.

The calls that wait for the timers (about a minute each) are placed together as
soon as the first test asks, each between its own caller and its own provider or
phone; each test then checks its own call.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.digest import compute_ha1, compute_response, parse_authorization
from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import Sipp, add_extensions, answer, call, register, start, wait_bound
from tests.e2e.ivr.conftest import tone_wav
from tests.e2e.sipp.runner import SIPP
from tests.e2e.trunk_calls.provider_peer import OptionsResponder, ProviderPeer
from tests.e2e.trunk_calls.test_trunk_calls import (
    SCENARIOS,
    TRUNK_PASSWORD,
    received_invite,
    wait_status,
)
from tests.harness import HOST, EventReceiver, PbxProcess, free_port

pytestmark = pytest.mark.peers

INTERVAL = 90
LONG = 150.0  # seconds a sipp of these tests may wait (its -timeout too)
WAIT = ["-timeout", f"{int(LONG)}s"]
AUTH_HOST = "127.0.0.5"  # the register trunk's provider: an address of its own
PEERS = {"Refreshed": "51", "Lapsed": "52", "Small": "53"}  # trunk: its route's prefix
IVR = "7401"  # no key pressed: on to 2007


@dataclass
class TimerNet:
    pbx: PbxProcess
    token: str
    events: EventReceiver
    ports: dict[str, int]

    def api(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer_ = self.pbx.api(endpoint, body, token=self.token)
        assert answer_["status"] == "Success", (endpoint, body, answer_)
        return answer_


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TimerNet]:
    env = {
        "KILOPBX_CALL_SESSION_EXPIRES": str(INTERVAL),
        "KILOPBX_CALL_RTP_TIMEOUT": "0",  # the sipp peers send no audio
        "KILOPBX_CALL_TRUNK_TIMEOUT": "2",
    }
    events = EventReceiver().start()
    ports = {name: free_port(udp_too=True) for name in (*PEERS, "Carrier", "Menu", "Quiet")}
    try:
        for pbx in call_pbx_with(tmp_path_factory, env):
            token = pbx.login(port=events.port)
            add_extensions(pbx, token, ("2004", "2005", "2006", "2007", "2008"))
            net = TimerNet(pbx, token, events, ports)
            configure(net)
            yield net
    finally:
        events.stop()


def configure(net: TimerNet) -> None:
    """One peer trunk per provider (their first OPTIONS answered here, then the
    keep-alive off, as in ``test_trunk_calls``), a route to each, and the DID of the
    inbound calls to 2002."""
    responders = [OptionsResponder(port) for port in net.ports.values()]
    try:
        for name, port in net.ports.items():
            peer = {"trunkname": name, "trunktype": "peer", "host": HOST, "port": str(port)}
            net.api("trunk/add_siptrunk", {**peer, "domain": f"{name.lower()}.test"})
        wait_status(net, dict.fromkeys(net.ports, "Registered"))
    finally:
        for responder in responders:
            responder.close()
    for trunk in net.api("trunk/list", {})["trunklist"]:
        net.api("trunk/update_settings", {"id": trunk["id"], "qualify": "0"})
    for name, prefix in PEERS.items():
        net.api("outroute/add", {"name": name, "prefix": f"{prefix}.", "strip": "2",
                                 "trunks": name, "extensions": "all"})  # fmt: skip
    net.api("inroute/add", {"name": "Main", "trunks": "Carrier", "did": "4402000",
                            "desttype": "extension", "dest": "2002"})  # fmt: skip
    upload = {"name": "short", "data": base64.b64encode(tone_wav(600)).decode()}
    net.api("prompt/upload", upload)
    net.api("ivr/add", {"number": IVR, "ivrname": "Menu", "promptrepeat": "1", "prompt": "short",
                        "responsetimeout": "1", "digittimeout": "1", "dialext": "off",
                        "timeoutdesttype": "extension", "timeoutdest": "2007"})  # fmt: skip
    net.api("inroute/add", {"name": "Menu", "trunks": "Menu", "did": "4402009",
                            "desttype": "ivr", "dest": IVR})  # fmt: skip
    net.api("inroute/add", {"name": "Quiet", "trunks": "Quiet", "did": "4402008",
                            "desttype": "extension", "dest": "2008"})  # fmt: skip


def moment(workdir: Path, name: str) -> float:
    return float((workdir / name).read_text().strip())


def lines(workdir: Path, name: str) -> list[str]:
    return (workdir / name).read_text().strip().splitlines()


# -- quick ones first (before the long calls take the providers' ports) -----------------


def test_a_providers_interval_under_our_minimum_gets_422_with_min_se(net: TimerNet) -> None:
    peer = ProviderPeer(net.pbx, net.ports["Carrier"])
    try:
        headers = "Supported: timer\r\nSession-Expires: 60\r\n"
        refused = peer.invite("4402000", "0700111000", headers=headers)
    finally:
        peer.close()
    assert (refused.status, refused.headers.get("Min-SE")) == (422, "90")


def test_a_challenging_provider_gets_credentials_again_after_its_422(
    net: TimerNet, tmp_path: Path
) -> None:
    """401, then 422 to the INVITE with credentials: the third INVITE asks for the
    provider's 120 s and carries credentials for the same challenge, counted on."""
    port = free_port(udp_too=True)
    command = [
        SIPP, "-i", AUTH_HOST, "-p", str(port), "-t", "u1", "-nostdin", "-trace_err",
        "-trace_msg", "-timeout", "30s", "-timeout_error", "-m", "2",
        "-sf", str(SCENARIOS / "provider_auth_422.xml"), "-set", "rtp", "9",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")  # fmt: skip
    provider = Sipp(process, port, tmp_path)
    try:
        net.api("trunk/add_siptrunk", {
            "trunkname": "Strict", "trunktype": "register", "host": AUTH_HOST,
            "port": str(port), "domain": "provider.test", "username": "88017736",
            "authname": "88017736", "password": TRUNK_PASSWORD,
        })  # fmt: skip
        net.api("outroute/add", {"name": "Strict", "prefix": "54.", "strip": "2",
                                 "trunks": "Strict", "extensions": "all"})  # fmt: skip
        wait_status(net, {"Strict": "Registered"})
        caller = call(net.pbx, "2001", "540044556677", tmp_path, scenario="uac_wait_bye.xml")
        try:
            code, out = provider.outcome()
            assert code == 0, out[-3000:]  # no credentials, or not 120 s, fails it
            caller.finish()
        finally:
            caller.kill()
    finally:
        provider.kill()
    invite = received_invite(tmp_path, "provider_auth_422.xml")
    headers = dict(line.split(": ", 1) for line in invite.splitlines() if ": " in line)
    assert (headers["Session-Expires"], headers["Min-SE"]) == ("120", "120")
    credentials = parse_authorization(headers["Authorization"])
    assert (credentials.username, credentials.nc) == ("88017736", "00000002")
    ha1 = compute_ha1("88017736", "www.provider.test", TRUNK_PASSWORD)
    expected = compute_response(
        ha1=ha1, algorithm="MD5", method="INVITE", uri=credentials.uri, nonce=credentials.nonce,
        qop=credentials.qop, nc=credentials.nc, cnonce=credentials.cnonce,
    )  # fmt: skip
    assert credentials.response == expected


# -- the calls that wait for the timers, placed together ---------------------------------


def outbound(scenario: str, trunk: str, caller: str) -> Callable[[TimerNet, Path], None]:
    """A call from ``caller`` out through ``trunk``, whose provider plays ``scenario``
    and hangs up (or is hung up on); the caller waits for its BYE."""

    def run(net: TimerNet, workdir: Path) -> None:
        port = net.ports[trunk]
        provider = start(net.pbx, scenario, workdir, port=port,
                         variables={"pts": "0", "rtp": "9"}, extra=WAIT)  # fmt: skip
        try:
            wait_bound(port)
            dialled = f"{PEERS[trunk]}0044556677"
            both_end(net, workdir, provider, caller, dialled)
        finally:
            provider.kill()

    return run


def to_extension(scenario: str, caller: str, callee: str) -> Callable[[TimerNet, Path], None]:
    def run(net: TimerNet, workdir: Path) -> None:
        port = free_port(udp_too=True)
        register(net.pbx, callee, port, workdir)
        phone = start(net.pbx, scenario, workdir, port=port,
                      variables={"pts": "0", "rtp": "9"}, extra=WAIT)  # fmt: skip
        try:
            wait_bound(port)
            both_end(net, workdir, phone, caller, callee)
        finally:
            phone.kill()

    return run


def both_end(net: TimerNet, workdir: Path, callee: Sipp, caller: str, dialled: str) -> None:
    placed = call(net.pbx, caller, dialled, workdir, scenario="uac_wait_bye.xml", extra=WAIT)
    try:
        callee.finish(timeout=LONG)
        placed.finish(timeout=LONG)  # it got its BYE: the call ended for both
    finally:
        placed.kill()


def inbound(
    trunk: str, did: str, extension: str, scenario: str = "provider_call_timer.xml"
) -> Callable[[TimerNet, Path], None]:
    """A provider's call on ``trunk`` to ``did`` playing ``scenario`` (by default it
    asks the PBX to refresh); it reaches ``extension``, which answers and waits for
    the BYE."""

    def run(net: TimerNet, workdir: Path) -> None:
        port = free_port(udp_too=True)
        register(net.pbx, extension, port, workdir)
        phone = answer(net.pbx, port, workdir, extra=WAIT)
        try:
            wait_bound(port)
            provider_call(net, workdir, trunk, did, scenario)
            phone.finish(timeout=LONG)
        finally:
            phone.kill()

    return run


def provider_call(net: TimerNet, workdir: Path, trunk: str, did: str, scenario: str) -> None:
    provider = start(
        net.pbx,
        str(SCENARIOS / scenario),
        workdir,
        port=net.ports[trunk],
        variables={"caller": f"0700{did}", "rtp": "9", "pts": "0"},  # one caller a DID
        extra=["-s", did, *WAIT],
    )
    try:
        provider.finish(timeout=LONG)
    finally:
        provider.kill()


CASES: dict[str, Callable[[TimerNet, Path], None]] = {
    "pbx-refreshes": outbound("uas_timer_refreshed.xml", "Refreshed", "2004"),
    "not-refreshed": outbound("uas_timer_expired.xml", "Lapsed", "2005"),
    "provider-422": outbound("uas_timer_422.xml", "Small", "2006"),
    "extension-422": to_extension("uas_timer_422.xml", "2001", "2003"),
    "inbound-uas": inbound("Carrier", "4402000", "2002"),
    "ivr-uas": inbound("Menu", "4402009", "2007"),  # answered by the IVR, then 2007
    "inbound-lapsed": inbound("Quiet", "4402008", "2008", "provider_call_timer_lapsed.xml"),
}


@pytest.fixture(scope="module")
def calls(
    net: TimerNet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Path, Future[None]]]]:
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        placed = {}
        for name, run in CASES.items():
            directory = tmp_path_factory.mktemp(name)
            placed[name] = (directory, pool.submit(run, net, directory))
        yield placed


def finished(calls: dict[str, tuple[Path, Future[None]]], name: str) -> Path:
    directory, future = calls[name]
    future.result(timeout=2 * LONG + 30)
    return directory


def test_the_pbx_refreshes_the_providers_session(
    calls: dict[str, tuple[Path, Future[None]]],
) -> None:
    workdir = finished(calls, "pbx-refreshes")
    assert (workdir / "callee-asked.txt").read_text().strip() == str(INTERVAL)  # offered
    waited = moment(workdir, "callee-refreshed.txt") - moment(workdir, "callee-answered.txt")
    assert INTERVAL / 2 - 3 <= waited <= INTERVAL / 2 + 8, waited  # §10: at half
    asked = (workdir / "callee-refresh-asked.txt").read_text().strip()
    assert asked == f"{INTERVAL};refresher=uac"  # and the PBX stays the refresher


@pytest.mark.parametrize(
    ("name", "files", "caller", "kind", "trunk"),
    [
        ("not-refreshed", "callee", "2005", "Outbound", "Lapsed"),  # the provider called
        ("inbound-lapsed", "provider", "07004402008", "Inbound", "Quiet"),  # it called us
    ],
)
def test_a_provider_session_not_refreshed_hangs_up_both_legs(
    calls: dict[str, tuple[Path, Future[None]]], net: TimerNet, name: str, files: str,
    caller: str, kind: str, trunk: str,
) -> None:  # fmt: skip
    """The provider is the refresher (its own choice as callee, or as the caller that
    asked for the timer) and never refreshes: the PBX hangs up both legs at the
    interval less ``min(32, interval / 3)`` (§10); the other party got its BYE too."""
    workdir = finished(calls, name)
    if files == "provider":  # our 200 left the refreshing to it, as it asked
        granted = (workdir / "provider-granted.txt").read_text().strip()
        assert granted == f"{INTERVAL};refresher=uac"
    waited = moment(workdir, f"{files}-bye.txt") - moment(workdir, f"{files}-answered.txt")
    expiry = INTERVAL - min(32, INTERVAL / 3)  # §10: the side not refreshing hangs up
    assert expiry - 3 <= waited <= expiry + 8, waited

    def ours(event: dict[str, Any]) -> bool:
        return event.get("event") == "NewCdr" and event.get("callfrom") == caller

    seen = net.events.wait_for(lambda evs: any(ours(e) for e in evs))
    (cdr,) = [e for e in seen if ours(e)]
    assert (cdr["status"], cdr["type"]) == ("ANSWERED", kind)
    assert trunk in (cdr["srctrunkname"], cdr["dsttrcunkname"])
    assert int(cdr["talkduraction"]) >= expiry - 3
    statuses = [e for e in seen if e.get("event") == "CallStatus" and e["callid"] == cdr["callid"]]
    last = [next(iter(m.values()))["memberstatus"] for m in statuses[-1]["members"]]
    assert last == ["BYE", "BYE"]  # both legs at once


@pytest.mark.parametrize("name", ["provider-422", "extension-422"])
def test_a_422_is_retried_once_with_the_callees_minimum(
    calls: dict[str, tuple[Path, Future[None]]], name: str
) -> None:
    """The second INVITE (same call: the scenario matched its Call-ID) asks for the
    callee's 120 s in Session-Expires and Min-SE, with the next CSeq and the same
    From (tag); the callee answers it and the call goes on until it hangs up."""
    workdir = finished(calls, name)
    se1, min1, cseq1, from1 = lines(workdir, "callee-invite-1.txt")
    se2, min2, cseq2, from2 = lines(workdir, "callee-invite-2.txt")
    assert (se1, min1) == (str(INTERVAL), str(INTERVAL))
    assert (se2, min2) == ("120", "120")
    assert int(cseq2) == int(cseq1) + 1
    assert from1 == from2 and ";tag=" in from1


@pytest.mark.parametrize(("name", "late"), [("inbound-uas", 0), ("ivr-uas", 5)])
def test_a_provider_naming_us_refresher_gets_our_refresh(
    calls: dict[str, tuple[Path, Future[None]]], name: str, late: float
) -> None:
    """Straight to an extension, or answered by an IVR first (whose 200 carries the
    timer too) and then handed to an extension: the clock starts again when the
    extension answers, ``late`` seconds at most after the IVR's answer."""
    workdir = finished(calls, name)
    granted = (workdir / "provider-granted.txt").read_text().strip()
    assert granted == f"{INTERVAL};refresher=uas"  # §9: the refresher it named stays
    waited = moment(workdir, "provider-refreshed.txt") - moment(workdir, "provider-answered.txt")
    assert INTERVAL / 2 - 3 <= waited <= INTERVAL / 2 + 8 + late, waited
    asked = (workdir / "provider-refresh-asked.txt").read_text().strip()
    assert asked == f"{INTERVAL};refresher=uac"  # we, the refresh's UAC, keep refreshing
