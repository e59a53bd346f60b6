"""Calls through trunks whose provider is a host name (RFC 3263), against a running
PBX and a DNS server the test runs on loopback: the SRV records name a dead target
first (a socket that never answers) and then a live one (sipp as the provider).

- The OPTIONS keep-alive and then a call fail over from the dead target to the live
  one; the next call goes to the live one at once (a dead target is tried last).
- A call from the live target's address is the trunk's; from another port it is refused.
- Answers are kept for their TTL: an SRV record with a TTL of an hour is asked for
  once, whatever the number of calls; one with a TTL of a second is asked for again
  by a call made after that second.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.calls.conftest import call_pbx_with
from tests.e2e.calls.peers import call
from tests.e2e.local_dns import LocalDns
from tests.e2e.trunk_calls.provider_peer import BlackHole, OptionsResponder, ProviderPeer
from tests.e2e.trunk_calls.test_trunk_calls import (
    Net,
    provider,
    received_invite,
    wait_status,
)
from tests.harness import HOST, EventReceiver, free_port

pytestmark = pytest.mark.peers
LONG_SRV = ("_sip._udp.voip.test", "SRV")  # dead target first, then the live one
SHORT_SRV = ("_sip._udp.brief.test", "SRV")  # the live one, for a second


class DnsNet(Net):
    dns: LocalDns
    hole: BlackHole


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsNet]:
    events, legacy, hole = EventReceiver().start(), EventReceiver().start(), BlackHole()
    live = free_port(udp_too=True)
    dns = LocalDns(
        {
            LONG_SRV: [f"0 0 {hole.port} dead.voip.test.", f"10 0 {live} live.voip.test."],
            SHORT_SRV: [f"0 0 {live} live.voip.test."],
            ("dead.voip.test", "A"): [HOST],
            ("live.voip.test", "A"): [HOST],
        },
        ttl=3600,
        ttls={SHORT_SRV: 1},
    ).start()
    env = {
        "KILOPBX_TRUNKS_NAMESERVER": f"{HOST}:{dns.port}",
        "KILOPBX_TRUNKS_REQUEST_TIMEOUT": "1",
        "KILOPBX_CALL_TRUNK_TIMEOUT": "1",
    }
    pbxs = call_pbx_with(tmp_path_factory, env)
    try:
        pbx = next(pbxs)
        token = pbx.login(port=events.port)
        pbx.login_legacy(port=legacy.port)
        net = DnsNet(pbx, token, events, legacy, {"live": live})
        net.dns, net.hole = dns, hole
        configure(net)
        yield net
    finally:
        next(pbxs, None)
        dns.stop()
        hole.close()
        events.stop()
        legacy.stop()


def configure(net: DnsNet) -> None:
    """Two peer trunks named by DNS. Their first OPTIONS (answered here) find the live
    target; then the keep-alive is switched off, so the provider's sipp gets only
    calls, and no target is known to answer before the first call."""
    responder = OptionsResponder(net.ports["live"])
    try:
        for name, host in (("Srv", "voip.test"), ("Brief", "brief.test")):
            net.api(
                "trunk/add_siptrunk",
                {"trunkname": name, "trunktype": "peer", "host": host, "domain": "provider.test"},
            )
        # the dead target's OPTIONS goes unanswered for a second, then the live one answers
        wait_status(net, {"Srv": "Registered", "Brief": "Registered"})
    finally:
        responder.close()
    for trunk in net.api("trunk/list", {})["trunklist"]:
        net.api("trunk/update_settings", {"id": trunk["id"], "qualify": "0"})
    for name, prefix, trunk in (("ViaSrv", "9.", "Srv"), ("ViaBrief", "8.", "Brief")):
        net.api(
            "outroute/add",
            {"name": name, "prefix": prefix, "strip": "1", "trunks": trunk, "extensions": "all"},
        )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def asked(net: DnsNet, question: tuple[str, str]) -> int:
    return net.dns.queries.count(question)


def call_out(net: DnsNet, workdir: Path, dialled: str) -> str:
    """``dialled`` from 2001, answered by the live provider; the INVITE it got."""
    workdir.mkdir(exist_ok=True)
    prov = provider(net, "provider_answer.xml", "live", workdir)
    try:
        call(net.pbx, "2001", dialled, workdir).finish()
        prov.finish()
    finally:
        prov.kill()
    return received_invite(workdir, "provider_answer.xml")


def invites_to_the_dead_target(net: DnsNet) -> list[bytes]:
    return [d for d in net.hole.drain() if d.startswith(b"INVITE ")]


def test_a_call_fails_over_to_the_next_srv_target_and_answers_are_cached(
    net: DnsNet, workdir: Path
) -> None:
    # the keep-alive asked the dead target first too (then the live one answered)
    assert any(d.startswith(b"OPTIONS ") for d in net.hole.drain())
    invite = call_out(net, workdir, "9555123")
    assert invite.startswith("INVITE sip:555123@provider.test"), invite[:200]
    # it went to the dead target first (SRV priority 0) and got no answer
    assert any(b"INVITE sip:555123@provider.test" in d for d in invites_to_the_dead_target(net))
    cdr = net.cdr("9555123")
    assert (cdr["dsttrcunkname"], cdr["status"]) == ("Srv", "ANSWERED")

    # the next call goes to the live target at once: the dead one is tried last
    invite = call_out(net, workdir / "second", "9555124")
    assert invite.startswith("INVITE sip:555124@provider.test"), invite[:200]
    assert invites_to_the_dead_target(net) == []
    # one SRV question for the trunk's whole life so far (keep-alive, two calls):
    # its answer lives an hour
    assert asked(net, LONG_SRV) == 1, net.dns.queries


def test_an_answer_is_asked_again_once_its_ttl_ran_out(net: DnsNet, workdir: Path) -> None:
    call_out(net, workdir, "8555001")
    before = asked(net, SHORT_SRV)
    assert before >= 1
    time.sleep(1.5)  # the SRV answer's TTL (one second) runs out
    call_out(net, workdir / "second", "8555002")
    assert asked(net, SHORT_SRV) == before + 1, net.dns.queries
    assert net.cdr("8555002")["dsttrcunkname"] == "Brief"


def test_a_peer_trunk_named_by_dns_takes_calls_from_its_resolved_address_only(
    net: DnsNet,
) -> None:
    net.api("inroute/add", {"name": "SrvIn", "did": "4402500", "trunks": "Srv",
                            "desttype": "hangup"})  # fmt: skip
    peer = ProviderPeer(net.pbx, net.ports["live"])  # an SRV target of voip.test
    try:
        assert peer.invite("4402500", "0700000500", from_host="voip.test").status == 603
    finally:
        peer.close()
    stranger = ProviderPeer(net.pbx)  # the same address, a port no record names
    try:
        assert stranger.invite("4402500", "0700000501", from_host="voip.test").status == 403
    finally:
        stranger.close()

    def placed(event: dict[str, Any]) -> bool:
        return event.get("event") == "NewCdr" and event.get("callfrom") == "0700000500"

    cdr = next(e for e in net.events.wait_for(lambda es: any(map(placed, es))) if placed(e))
    assert (cdr["srctrunkname"], cdr["didnumber"]) == ("Srv", "4402500")
