"""The inbound call control window against a running PBX: a provider (a bare UDP peer)
calls a DID on a trunk with `inboundcontrol` on; the application accepts, refuses,
sends the call elsewhere with call/transfer, or stays silent until the window (3 s
here) closes. Events are checked field by field in the 2.0.0 format and in both
legacy formats (L0 and L2)."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kilopbx.sip.message import SipResponse
from kilopbx.sip.parser import parse_message
from tests.e2e.calls.conftest import ENV
from tests.e2e.calls.peers import add_extensions, answer, register, unregister
from tests.e2e.calls.sip_client import SDP
from tests.e2e.trunk_calls.provider_peer import OptionsResponder, ProviderPeer
from tests.harness import HOST, EventReceiver, PbxProcess, free_port

pytestmark = pytest.mark.peers
WINDOW = 3.0  # KILOPBX_CALL_INBOUND_WINDOW of this module's PBX
TRUNK = "Carrier"


@dataclass
class Net:
    pbx: PbxProcess
    token: str
    events: EventReceiver
    plain: EventReceiver  # legacy L0
    contained: EventReceiver  # legacy L2
    port: int
    legacy_tokens: list[str] = field(default_factory=list)

    def api(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.pbx.api(endpoint, body, token=self.token)

    def ok(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.api(endpoint, body)
        assert answer["status"] == "Success", (endpoint, body, answer)
        return answer


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    receivers = [EventReceiver().start() for _ in range(3)]
    port = free_port(udp_too=True)
    env = {**ENV, "KILOPBX_CALL_INBOUND_WINDOW": str(WINDOW)}
    pbx = PbxProcess(tmp_path_factory.mktemp("inbound") / "pbx", env).start()
    try:  # only the sessions made here: the last test logs them all out
        token = pbx.login(port=receivers[0].port)
        pbx.api("extension/delete", {"number": "all"}, token=token)
        add_extensions(pbx, token)
        legacy = [
            pbx.login_legacy(port=receivers[1].port),
            pbx.login_legacy(port=receivers[2].port, version="1.0.2"),
        ]
        net = Net(pbx, token, *receivers, port, legacy)
        responder = OptionsResponder(port)  # the new trunk's first keep-alive
        try:
            net.ok("trunk/add_siptrunk", {"trunkname": TRUNK, "trunktype": "peer",
                                          "host": "127.0.0.1", "port": str(port),
                                          "domain": "carrier.test"})  # fmt: skip
            trunk = next(t for t in net.ok("trunk/list", {})["trunklist"])
        finally:
            responder.close()
        net.ok("trunk/update_settings", {"id": trunk["id"], "qualify": "0",
                                         "inboundcontrol": "yes"})  # fmt: skip
        inbound = {"trunks": TRUNK, "desttype": "extension"}
        net.ok("inroute/add", {**inbound, "name": "Main", "did": "4402000", "dest": "2002"})
        net.ok("inroute/add", {**inbound, "name": "Absent", "did": "4402003", "dest": "2003"})
        net.ok("ivr/add", {"number": "7301", "ivrname": "Menu"})
        net.ok("inroute/add", {**inbound, "name": "Closed", "did": "4402066",
                               "desttype": "hangup"})  # fmt: skip
        net.ok("inroute/add", {**inbound, "name": "Menu", "did": "4402009", "desttype": "ivr",
                               "dest": "7301"})  # fmt: skip
        yield net
    finally:
        pbx.stop()
        for receiver in receivers:
            receiver.stop()


@dataclass
class ProviderCall:
    """A provider's INVITE sent from another thread (it blocks until the final answer)."""

    net: Net
    did: str
    caller: str
    final: SipResponse | None = None
    sent_at: float = 0.0
    answered_at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> ProviderCall:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        peer = ProviderPeer(self.net.pbx, self.net.port)
        try:
            self.sent_at = time.monotonic()
            self.final = peer.invite(self.did, self.caller)
            self.answered_at = time.monotonic()
        finally:
            peer.close()
            self.done.set()

    def status(self, timeout: float = 20.0) -> int:
        assert self.done.wait(timeout), "the provider got no final answer"
        assert self.final is not None
        return self.final.status


@pytest.fixture
def phone(net: Net, tmp_path: Path) -> Iterator[int]:
    """2002 registered from a port where a sipp phone answers."""
    port = free_port(udp_too=True)
    register(net.pbx, "2002", port, tmp_path)
    yield port
    unregister(net.pbx, "2002", port, tmp_path)


def _name(event: dict[str, Any]) -> str:
    return str(event.get("event", event.get("action", "")))


def wait_event(receiver: EventReceiver, name: str, match: dict[str, str]) -> dict[str, Any]:
    """The first event ``name`` whose top-level keys (or inbound party) match."""

    def hit(event: dict[str, Any]) -> bool:
        if _name(event) != name:
            return False
        inbound = event.get("members", [{}])[0].get("inbound", {}) if "members" in event else {}
        return all(event.get(k, inbound.get(k)) == v for k, v in match.items())

    return next(e for e in receiver.wait_for(lambda es: any(map(hit, es))) if hit(e))


def check_invite_shape(event: dict[str, Any], name: str, caller: str, did: str) -> str:
    """80-events §4.1/§4.2 field by field; returns the trunk channel."""
    assert list(event) == ["event", "callid", "members", "sn"], event
    assert event["event"] == name
    assert len(event["members"]) == 1 and list(event["members"][0]) == ["inbound"]
    inbound = event["members"][0]["inbound"]
    assert list(inbound) == ["from", "to", "trunkname", "channelid"], inbound
    assert (inbound["from"], inbound["to"], inbound["trunkname"]) == (caller, did, TRUNK)
    assert inbound["channelid"].startswith(f"PJSIP/trunk-{TRUNK}-endpoint-")
    seconds, _, sequence = event["callid"].partition(".")
    assert seconds.isdigit() and sequence.isdigit()
    return str(inbound["channelid"])


def check_legacy(net: Net, name: str, call_id: str, caller: str, did: str) -> None:
    """81-events-legacy §4.4/§4.5: L0 with a top-level `inbound`, L2 in `call`."""
    party = {"from": caller, "to": did, "trunk": TRUNK, "inboundid": call_id}
    wait_event(net.plain, name, {"callid": call_id})
    wait_event(net.contained, name, {"callid": call_id})
    plain = next(b for b in net.plain.bodies if json.loads(b).get("callid") == call_id
                 and json.loads(b).get("action") == name)  # fmt: skip
    body = json.loads(plain)
    assert list(body) == ["action", "callid", "inbound", "sn"] and body["inbound"] == party
    assert list(body["inbound"]) == ["from", "to", "trunk", "inboundid"]
    contained = next(e for e in net.contained.named(name) if e["callid"] == call_id)
    assert list(contained) == ["action", "callid", "call", "sn"]
    assert contained["call"] == [{"inbound": party}]


def names_for(receiver: EventReceiver, call_id: str) -> list[str]:
    return [_name(e) for e in list(receiver.events) if e.get("callid") == call_id]


def test_accepted_call_rings_the_route_destination_and_keeps_its_ids(
    net: Net, phone: int, tmp_path: Path
) -> None:
    uas = answer(net.pbx, phone, tmp_path)
    try:
        provider = ProviderCall(net, "4402000", "0612345601").start()
        invite = wait_event(net.events, "Invite", {"from": "0612345601"})
        channel = check_invite_shape(invite, "Invite", "0612345601", "4402000")
        call_id = invite["callid"]
        assert net.ok("call/accept_inbound", {"channelid": channel}) == {
            "status": "Success", "callid": call_id,
        }  # fmt: skip
        # the first decision wins: the window is closed now
        assert net.api("call/accept_inbound", {"channelid": channel})["errno"] == "10016"
        assert net.api("call/refuse_inbound", {"channelid": channel})["errno"] == "10016"
        incoming = wait_event(net.events, "Incoming", {"callid": call_id})
        assert check_invite_shape(incoming, "Incoming", "0612345601", "4402000") == channel
        assert incoming["members"] == invite["members"]
        assert provider.status() == 200
        uas.finish()
    finally:
        uas.kill()
    cdr = wait_event(net.events, "NewCdr", {"callid": call_id})
    assert (cdr["callfrom"], cdr["callto"], cdr["status"]) == ("0612345601", "2002", "ANSWERED")
    assert (cdr["srctrunkname"], cdr["didnumber"], cdr["type"]) == (TRUNK, "4402000", "Inbound")
    names = names_for(net.events, call_id)
    # Invite, then Incoming before the first CallStatus of the call
    assert names.index("Invite") < names.index("Incoming") < names.index("CallStatus")
    statuses = [e for e in net.events.named("CallStatus") if e["callid"] == call_id]
    inbound = [m["inbound"] for e in statuses for m in e["members"] if "inbound" in m]
    assert {m["channelid"] for m in inbound} == {channel}
    assert {m["memberstatus"] for m in inbound} >= {"ALERT", "ANSWERED"}
    check_legacy(net, "Invite", call_id, "0612345601", "4402000")
    check_legacy(net, "Incoming", call_id, "0612345601", "4402000")


def test_refused_call_gets_603_and_no_answer_record_without_incoming(net: Net) -> None:
    provider = ProviderCall(net, "4402000", "0612345602").start()
    invite = wait_event(net.events, "Invite", {"from": "0612345602"})
    channel = check_invite_shape(invite, "Invite", "0612345602", "4402000")
    call_id = invite["callid"]
    answer = net.ok("call/refuse_inbound", {"channelid": channel})
    assert answer == {"status": "Success", "callid": call_id}
    assert provider.status() == 603
    assert net.api("call/refuse_inbound", {"channelid": channel})["errno"] == "10016"
    cdr = wait_event(net.events, "NewCdr", {"callid": call_id})
    assert (cdr["callfrom"], cdr["status"], cdr["type"]) == ("0612345602", "NO ANSWER", "Inbound")
    assert (cdr["srctrunkname"], cdr["didnumber"]) == (TRUNK, "4402000")
    wait_event(net.plain, "NewCdr", {"callid": call_id})  # the legacy sessions are as far
    assert names_for(net.events, call_id) == ["Invite", "NewCdr"]
    assert [_name(e) for e in net.plain.events if e.get("callid") == call_id] == [
        "Invite", "NewCdr",
    ]  # fmt: skip
    check_legacy(net, "Invite", call_id, "0612345602", "4402000")


def test_no_decision_routes_the_call_when_the_window_closes(
    net: Net, phone: int, tmp_path: Path
) -> None:
    uas = answer(net.pbx, phone, tmp_path)
    try:
        provider = ProviderCall(net, "4402000", "0612345603").start()
        invite = wait_event(net.events, "Invite", {"from": "0612345603"})
        channel = check_invite_shape(invite, "Invite", "0612345603", "4402000")
        call_id = invite["callid"]
        incoming = wait_event(net.events, "Incoming", {"callid": call_id})
        waited = time.monotonic() - provider.sent_at
        assert waited >= WINDOW - 0.2, waited  # nothing before the window closed
        assert incoming["members"] == invite["members"]
        assert net.api("call/accept_inbound", {"channelid": channel})["errno"] == "10016"
        assert provider.status() == 200
        uas.finish()
    finally:
        uas.kill()
    cdr = wait_event(net.events, "NewCdr", {"callid": call_id})
    assert (cdr["callto"], cdr["status"], cdr["didnumber"]) == ("2002", "ANSWERED", "4402000")
    check_legacy(net, "Incoming", call_id, "0612345603", "4402000")


def test_transfer_in_the_window_sends_the_call_to_the_named_extension(
    net: Net, phone: int, tmp_path: Path
) -> None:
    """The route of 4402003 rings 2003 (not registered: 480); the application sends the
    call to 2002 instead, which answers."""
    uas = answer(net.pbx, phone, tmp_path)
    try:
        provider = ProviderCall(net, "4402003", "0612345604").start()
        invite = wait_event(net.events, "Invite", {"from": "0612345604"})
        channel = check_invite_shape(invite, "Invite", "0612345604", "4402003")
        call_id = invite["callid"]
        missing = net.api("call/transfer", {"channelid": channel, "number": "2999"})
        assert missing == {"status": "Failed", "errno": "10011"}
        moved = net.ok("call/transfer", {"channelid": channel, "number": "2002"})
        assert moved == {"status": "Success", "callid": call_id}
        wait_event(net.events, "Incoming", {"callid": call_id})
        assert provider.status() == 200
        uas.finish()
    finally:
        uas.kill()
    cdr = wait_event(net.events, "NewCdr", {"callid": call_id})
    assert (cdr["callto"], cdr["status"]) == ("2002", "ANSWERED")


@pytest.mark.parametrize(
    ("body", "errno"),
    [
        ({"channelid": ""}, "10004"),
        ({"channelid": None}, "10004"),
        ({"channelid": ["PJSIP/trunk-Carrier-endpoint-00000001"]}, "10004"),
        ({"channel": "PJSIP/trunk-Carrier-endpoint-00000001"}, "10004"),
        ({"channelid": "PJSIP/trunk-Carrier-endpoint-ffffffff"}, "10007"),
        ({"channelid": 12345}, "10007"),
        ({"channelid": "x" * 5000}, "10007"),
        ({"channelid": "PJSIP/'; DROP TABLE trunk; --\u0000"}, "10007"),
    ],
)
@pytest.mark.parametrize("operation", ["call/accept_inbound", "call/refuse_inbound"])
def test_bad_decisions_answer_the_spec_errno(
    net: Net, operation: str, body: dict[str, Any], errno: str
) -> None:
    assert net.api(operation, body) == {"status": "Failed", "errno": errno}


def test_empty_body_and_the_doubled_path(net: Net) -> None:
    assert net.api("call/accept_inbound", {})["errno"] == "20007"
    doubled = net.api("call/call/refuse_inbound", {"channelid": "PJSIP/nobody-00000001"})
    assert doubled == {"status": "Failed", "errno": "10007"}


def test_the_trunk_setting_is_stored_and_checked(net: Net) -> None:
    trunk = net.ok("trunk/list", {})["trunklist"][0]
    shown = net.ok("trunk/query_settings", {"id": trunk["id"]})
    assert shown["trunksettings"][0]["inboundcontrol"] == "yes", shown
    for bad in ("maybe", "", "yes;no", "x" * 300):
        answer = net.api("trunk/update_settings", {"id": trunk["id"], "inboundcontrol": bad})
        assert answer == {"status": "Failed", "errno": "10940"}, (bad, answer)
    shown = net.ok("trunk/query_settings", {"id": trunk["id"]})
    assert shown["trunksettings"][0]["inboundcontrol"] == "yes"


def test_accepted_call_to_an_ivr_keeps_the_invite_call_id(net: Net) -> None:
    provider = ProviderCall(net, "4402009", "0612345607").start()
    invite = wait_event(net.events, "Invite", {"from": "0612345607"})
    channel = check_invite_shape(invite, "Invite", "0612345607", "4402009")
    assert net.ok("call/accept_inbound", {"channelid": channel})["callid"] == invite["callid"]
    assert provider.status() == 200  # the IVR answered (and the provider hung up)
    wait_event(net.events, "Incoming", {"callid": invite["callid"]})
    cdr = wait_event(net.events, "NewCdr", {"callid": invite["callid"]})
    assert (cdr["callfrom"], cdr["didnumber"], cdr["type"]) == ("0612345607", "4402009", "Inbound")


@pytest.mark.parametrize(("did", "status"), [("4402066", 603), ("4402999", 404)])
def test_a_route_that_turns_the_accepted_call_away_keeps_its_ids(
    net: Net, did: str, status: int
) -> None:
    """A "hangup" route (603) and a DID no route has (404), after the accept."""
    caller = f"06123457{status}"
    provider = ProviderCall(net, did, caller).start()
    invite = wait_event(net.events, "Invite", {"from": caller})
    channel = check_invite_shape(invite, "Invite", caller, did)
    net.ok("call/accept_inbound", {"channelid": channel})
    assert provider.status() == status
    cdr = wait_event(net.events, "NewCdr", {"callid": invite["callid"]})
    assert (cdr["callfrom"], cdr["didnumber"], cdr["status"]) == (caller, did, "NO ANSWER")


def _decide_together(net: Net, channel: str, operations: tuple[str, ...]) -> dict[str, Any]:
    """Each operation on ``channel`` from its own thread, started together."""
    answers: dict[str, Any] = {}
    start = threading.Barrier(len(operations))

    def decide(operation: str) -> None:
        start.wait(5.0)
        answers[operation] = net.api(operation, {"channelid": channel})

    threads = [threading.Thread(target=decide, args=(op,)) for op in operations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)
    return answers


def test_racing_decisions_the_first_wins_and_nothing_is_left(net: Net) -> None:
    """20 rounds of accept and refuse fired together at one waiting call: exactly one
    succeeds, the other answers 10016, the provider gets the winner's outcome (the
    route's 2003 is not registered: 480 after an accept), and no call stays live."""
    for round_ in range(20):
        caller = f"0699000{round_:03d}"
        provider = ProviderCall(net, "4402003", caller).start()
        channel = wait_event(net.events, "Invite", {"from": caller})["members"][0]["inbound"][
            "channelid"
        ]
        answers = _decide_together(net, channel, ("call/accept_inbound", "call/refuse_inbound"))
        winners = [op for op, answer in answers.items() if answer["status"] == "Success"]
        assert len(winners) == 1, answers
        loser = next(answer for op, answer in answers.items() if op not in winners)
        assert loser == {"status": "Failed", "errno": "10016"}
        expected = 603 if winners == ["call/refuse_inbound"] else 480
        assert provider.status() == expected, (winners, provider.final)
    deadline = time.monotonic() + 10.0
    while net.ok("call/query", {"type": "inbound"})["calls"]:
        assert time.monotonic() < deadline, "calls left behind"
        time.sleep(0.05)


def _cancelled_invite(
    net: Net, did: str, caller: str, decided: threading.Event, *, require_100rel: bool = False
) -> list[int]:
    """A provider's INVITE that it CANCELs once ``decided`` is set (after the 180, or
    the 100 when it requires 100rel): the statuses it got, in order, up to the final."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, net.port))
    sock.settimeout(10.0)
    uri = f"sip:{did}@{HOST}:{net.pbx.sip_port}"
    call_id, tag, branch = secrets.token_hex(8), secrets.token_hex(4), secrets.token_hex(6)

    def send(method: str, extra: str = "", body: bytes = b"") -> None:
        text = (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {HOST}:{net.port};branch=z9hG4bK{branch};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:{caller}@carrier.test>;tag={tag}\r\n"
            f"To: <{uri}>{extra}\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n"
            f"Contact: <sip:{caller}@{HOST}:{net.port}>\r\n"
            + ("Require: 100rel\r\n" if require_100rel and method == "INVITE" else "")
        )
        length = f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
        sock.sendto(text.encode() + (length if body else "Content-Length: 0\r\n\r\n").encode()
                    + body, (HOST, net.pbx.sip_port))  # fmt: skip

    statuses: list[int] = []
    try:
        send("INVITE", body=SDP)
        for _ in range(20):  # bounded: 100, 180, then the CANCEL's 200 and the 487
            message = parse_message(sock.recv(65535))
            if not isinstance(message, SipResponse):
                continue
            statuses.append(message.status)
            if message.status == (100 if require_100rel else 180) and message.cseq[1] == "INVITE":
                assert decided.wait(10.0)
                send("CANCEL")
            if message.cseq[1] == "INVITE" and message.status >= 200:
                send("ACK", f";tag={message.to.tag}")
                break
    finally:
        sock.close()
    return statuses


def test_caller_hanging_up_in_the_window_ends_it_without_incoming(net: Net) -> None:
    seen = threading.Event()
    statuses: list[int] = []
    worker = threading.Thread(
        target=lambda: statuses.extend(_cancelled_invite(net, "4402000", "0612345606", seen)),
        daemon=True,
    )
    worker.start()
    invite = wait_event(net.events, "Invite", {"from": "0612345606"})
    channel = check_invite_shape(invite, "Invite", "0612345606", "4402000")
    seen.set()
    worker.join(15.0)
    assert 180 in statuses and statuses[-1] == 487, statuses
    cdr = wait_event(net.events, "NewCdr", {"callid": invite["callid"]})
    assert (cdr["callfrom"], cdr["status"], cdr["type"]) == ("0612345606", "NO ANSWER", "Inbound")
    assert names_for(net.events, invite["callid"]) == ["Invite", "NewCdr"]  # no CallFailed
    assert net.api("call/accept_inbound", {"channelid": channel})["errno"] == "10016"


def test_a_provider_requiring_100rel_gets_no_unreliable_180(net: Net) -> None:
    """RFC 3262 §3: its provisional responses must be reliable, so the window sends
    none (the 100 only); the CANCEL ends it as usual."""
    seen = threading.Event()
    statuses: list[int] = []
    worker = threading.Thread(
        target=lambda: statuses.extend(
            _cancelled_invite(net, "4402000", "0612345608", seen, require_100rel=True)
        ),
        daemon=True,
    )
    worker.start()
    wait_event(net.events, "Invite", {"from": "0612345608"})
    seen.set()
    worker.join(15.0)
    assert 180 not in statuses and statuses[-1] == 487, statuses


def test_without_any_session_the_call_is_routed_at_once(
    net: Net, phone: int, tmp_path: Path
) -> None:
    """Last in the module: it logs every session out. Nobody could hear the Invite,
    so the call does not wait for the window (80-events §5)."""
    for token in [*net.legacy_tokens, net.token]:
        assert net.pbx.api("logout", {}, token=token)["status"] == "Success"
    uas = answer(net.pbx, phone, tmp_path, talk_ms=100)
    try:
        provider = ProviderCall(net, "4402000", "0612345605").start()
        assert provider.status() == 200
        uas.finish()
    finally:
        uas.kill()
    assert provider.answered_at - provider.sent_at < WINDOW  # it did not wait
    assert not any(e.get("callid") for e in net.events.named("Invite")
                   if e["members"][0]["inbound"]["from"] == "0612345605")  # fmt: skip
