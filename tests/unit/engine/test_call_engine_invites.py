"""The call engine's door, without sockets: what an INVITE gets before any call is
made (challenge, refusals, malformed and hostile input), and that nothing is left
behind by a refused one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from kilopbx.clock import FakeClock
from kilopbx.engine.call_observer import CallRecord, Forwarding
from kilopbx.engine.calls import CallEngine
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.sip_auth import DigestAuthenticator
from kilopbx.engine.sip_service import SipService
from kilopbx.events.bus import EventBus
from kilopbx.media.pool import MediaPool
from kilopbx.sip.digest import NonceManager, build_authorization, parse_challenge
from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source

PASSWORD = "Kx7mPq2wRt9vBn4Z"
SDP = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\n"
)


@dataclass
class Answered:
    status: int
    headers: list[tuple[str, str]]


@dataclass
class FakeTransaction:
    request: SipRequest
    source: Source = field(default_factory=lambda: Source("udp", "10.0.0.9", 5060))
    answers: list[Answered] = field(default_factory=list)

    def respond(
        self,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        self.answers.append(Answered(status, list(headers or [])))


@dataclass
class Registrations:
    def contacts_for(self, number: str) -> list[Any]:
        return []

    def registered_ip(self, number: str) -> str | None:
        return None


@dataclass
class Observer:
    ended: list[CallRecord] = field(default_factory=list)

    def call_ringing(self, call: CallRecord) -> None: ...

    def call_answered(self, call: CallRecord) -> None: ...

    def call_changed(self, call: CallRecord) -> None: ...

    def call_forwarded(self, call: CallRecord, forward: Forwarding) -> None: ...

    def call_ended(self, call: CallRecord) -> None:
        self.ended.append(call)


@dataclass
class TrustingSip:
    trusted: list[Source] = field(default_factory=list)

    def trust_connection(self, source: Source) -> None:
        self.trusted.append(source)


class Door:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.directory = AccountDirectory()
        self.directory.load(
            [SipAccount("2001", "2001", PASSWORD), SipAccount("2002", "2002", PASSWORD)]
        )
        nonces = NonceManager(b"k" * 32, clock=self.clock.now)
        self.strikes: list[str] = []
        self.auth = DigestAuthenticator(
            self.directory,
            nonces,
            realm="KiloPBX",
            algorithms=("MD5",),
            on_failure=self.strikes.append,
        )
        self.observer = Observer()
        self.engine = CallEngine(
            sip=cast(SipService, TrustingSip()),  # no call gets far enough to use more
            auth=self.auth,
            directory=self.directory,
            registrations=Registrations(),
            media=cast(MediaPool, None),
            clock=self.clock,
            bus=EventBus(),
            observers=lambda: [self.observer],
        )

    def invite(
        self, dialled: str = "2002", body: str = SDP, *, caller: str = "2001", extra: str = ""
    ) -> FakeTransaction:
        text = (
            f"INVITE sip:{dialled}@pbx SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1\r\n"
            f"From: <sip:{caller + '@' if caller else ''}pbx>;tag=a\r\nTo: <sip:{dialled}@pbx>\r\n"
            "Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@10.0.0.9>\r\n"
            f"Max-Forwards: 70\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
        )
        request = parse_message(text.encode())
        assert isinstance(request, SipRequest)
        transaction = FakeTransaction(request)
        self.engine.on_invite(cast(ServerTransactionHandle, transaction))
        return transaction

    def authorized(
        self, dialled: str = "2002", body: str = SDP, *, password: str = PASSWORD, extra: str = ""
    ) -> FakeTransaction:
        first = self.invite(dialled, body, extra=extra).answers[-1]
        assert first.status == 407
        challenge = parse_challenge(dict(first.headers)["Proxy-Authenticate"])
        value = build_authorization(
            challenge, method="INVITE", uri=f"sip:{dialled}@pbx", username="2001", password=password
        )
        return self.invite(dialled, body, extra=f"{extra}Proxy-Authorization: {value}\r\n")


def test_unauthenticated_invite_is_challenged_with_407() -> None:
    door = Door()
    answer = door.invite().answers[-1]
    assert answer.status == 407
    assert [name for name, _ in answer.headers] == ["Proxy-Authenticate"]
    assert door.engine.calls == {} and door.strikes == []


def test_wrong_password_is_403_and_a_strike() -> None:
    door = Door()
    assert door.authorized(password="wrong").answers[-1].status == 403
    assert door.strikes == ["10.0.0.9"]


def test_a_caller_claiming_another_extension_is_refused() -> None:
    door = Door()
    first = door.invite(caller="2002").answers[-1]
    challenge = parse_challenge(dict(first.headers)["Proxy-Authenticate"])
    value = build_authorization(
        challenge, method="INVITE", uri="sip:2002@pbx", username="2001", password=PASSWORD
    )
    refused = door.invite(caller="2002", extra=f"Proxy-Authorization: {value}\r\n")
    assert refused.answers[-1].status == 403  # credentials of 2001, From of 2002


def test_unknown_number_is_404_with_a_record() -> None:
    door = Door()
    assert door.authorized("2999").answers[-1].status == 404
    (record,) = door.observer.ended
    assert (record.caller, record.dialled, record.disposition, record.sip_status) == (
        "2001",
        "2999",
        "FAILED",
        404,
    )
    assert door.engine.calls == {}


@pytest.mark.parametrize(
    "body",
    [
        "v=0\r\nrubbish",
        SDP.replace("RTP/AVP 0", "RTP/AVP 18"),
        SDP.replace("IN IP4 10.0.0.9\r\nt=", "IN IP6 ::1\r\nt="),
        SDP + "a=x:" + "y" * 9000 + "\r\n",
    ],
    ids=["garbage", "g729-only", "ipv6", "oversized"],
)
def test_sdp_we_cannot_use_is_488(body: str) -> None:
    door = Door()
    assert door.authorized(body=body).answers[-1].status == 488
    assert door.engine.calls == {}
    assert door.observer.ended[-1].sip_status == 488


def test_a_session_interval_under_90_s_is_422() -> None:
    door = Door()
    extra = "Supported: timer\r\nSession-Expires: 30\r\n"
    answer = door.authorized(extra=extra).answers[-1]
    assert (answer.status, dict(answer.headers)["Min-SE"]) == (422, "90")


def test_a_caller_without_a_user_part_is_refused_unchallenged() -> None:
    door = Door()
    answer = door.invite(caller="").answers[-1]
    assert answer.status == 403 and door.strikes == []
