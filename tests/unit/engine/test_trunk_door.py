"""The call engine's door for trunks, without sockets: a request from a trunk's
address is not challenged, one claiming a trunk from elsewhere is refused with a
strike, hostile SDP from a trunk is refused, and phones are not mistaken for trunks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from kilopbx.engine.trunking import TrunkProfile, TrunkTarget
from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source
from tests.unit.engine.test_call_engine_invites import SDP, Door, FakeTransaction

CARRIER = TrunkProfile(
    "Carrier", "peer", "carrier.test", "", "", "", "", "", "", ("ulaw",), "rfc4733", 0
)


class Lines:
    def __init__(self) -> None:
        self.spawned: list[Any] = []

    def profile(self, name: str) -> TrunkProfile | None:
        return CARRIER if name == "Carrier" else None

    def identify(self, host: str, port: int) -> TrunkProfile | None:
        return CARRIER if (host, port) == ("203.0.113.5", 5060) else None

    def claimed(self, host: str) -> TrunkProfile | None:
        return CARRIER if host in ("carrier.test", "203.0.113.5") else None

    async def targets(self, name: str) -> Sequence[TrunkTarget]:
        return []

    def report(self, name: str, target: TrunkTarget, reachable: bool) -> None:
        pass


def door() -> tuple[Door, list[Any]]:
    result = Door()
    spawned: list[Any] = []
    result.engine.sip.host = "10.0.0.1"  # type: ignore[misc]  # our own name
    result.engine.trunk_lines = Lines
    result.engine.spawn = lambda coroutine: spawned.append(coroutine.close())  # type: ignore[method-assign]
    return result, spawned


def invite(
    d: Door, host: str, *, port: int = 5060, from_host: str = "carrier.test", body: str = SDP,
    extra: str = "",
) -> FakeTransaction:  # fmt: skip
    text = (
        "INVITE sip:4402000@10.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK1\r\n"
        f"From: <sip:0612345678@{from_host}>;tag=a\r\nTo: <sip:4402000@10.0.0.1>\r\n"
        f"Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@{host}>\r\n"
        f"Max-Forwards: 70\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
    )
    request = parse_message(text.encode())
    assert isinstance(request, SipRequest)
    transaction = FakeTransaction(request, Source("udp", host, port))
    d.engine.on_invite(cast(ServerTransactionHandle, transaction))
    return transaction


def test_a_trunks_invite_is_taken_without_a_challenge() -> None:
    d, spawned = door()
    transaction = invite(d, "203.0.113.5")
    assert transaction.answers == [] and len(spawned) == 1  # routed inbound
    assert d.strikes == []


def test_a_call_claiming_a_trunk_from_elsewhere_is_refused_with_a_strike() -> None:
    d, spawned = door()
    assert invite(d, "203.0.113.5", port=5999).answers[-1].status == 403  # wrong port
    assert invite(d, "198.51.100.7", from_host="203.0.113.5").answers[-1].status == 403
    assert d.strikes == ["203.0.113.5", "198.51.100.7"] and spawned == []
    # our own name, or a host no trunk has, is a phone's call: challenged as usual
    assert invite(d, "198.51.100.7", from_host="10.0.0.1").answers[-1].status == 407
    assert invite(d, "198.51.100.7", from_host="elsewhere.test").answers[-1].status == 407
    # with credentials the digest check decides (here: a nonce not ours, challenged again)
    assert invite(d, "198.51.100.7", extra='Proxy-Authorization: Digest username="x", '
                  'realm="KiloPBX", nonce="n", uri="sip:4402000@10.0.0.1", response="0"\r\n'
                  ).answers[-1].status == 407  # fmt: skip


def test_hostile_sdp_from_a_trunk_is_refused() -> None:
    d, spawned = door()
    assert invite(d, "203.0.113.5", body="v=0\r\nnonsense").answers[-1].status == 488
    assert spawned == []
