"""RegisterHandler: challenges, digest MD5/SHA-256, stale nonces, no user enumeration,
bans and the scanner filter, all with a fake clock and fake transactions."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.apps.registrar.core import RegistrarCore
from kilopbx.apps.registrar.security import BanList
from kilopbx.apps.registrar.service import RegisterHandler
from kilopbx.clock import FakeClock
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.sip.digest import NonceManager, build_authorization, parse_challenge
from kilopbx.sip.message import SipRequest
from kilopbx.sip.parser import parse_message
from kilopbx.sip.transport import Source

PASSWORD = "Kx7mPq2wRt9vBn4Z"
SOURCE = Source("udp", "10.0.0.5", 5060)


@dataclass
class FakeTransaction:
    request: SipRequest
    source: Source = SOURCE
    answers: list[tuple[int, str | None, list[tuple[str, str]]]] = field(default_factory=list)

    def respond(
        self,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> None:
        self.answers.append((status, reason, list(headers or [])))

    @property
    def status(self) -> int:
        return self.answers[-1][0]

    def header(self, name: str) -> list[str]:
        return [v for n, v in self.answers[-1][2] if n == name]


class Env:
    def __init__(self, config: RegistrarConfig | None = None) -> None:
        self.clock = FakeClock()
        self.config = config or RegistrarConfig(ban_failures=3, ban_window=60, ban_seconds=600)
        self.directory = AccountDirectory()
        self.directory.load(
            [
                SipAccount("2001", "ana2001", PASSWORD, max_registrations=2),
                SipAccount("2002", "rui2002", "Zz9yXw8vUt7sRq6P"),
            ]
        )
        self.core = RegistrarCore(self.clock, self.config.limits)
        self.nonces = NonceManager(b"k" * 32, lifetime=300, clock=self.clock.now)
        self.bans = BanList(
            self.clock.monotonic,
            threshold=self.config.ban_failures,
            window=self.config.ban_window,
            ban_seconds=self.config.ban_seconds,
        )
        self.handler = RegisterHandler(
            self.core, self.directory, self.config, self.nonces, self.bans
        )
        self.cseq = 0

    def register(
        self,
        user: str = "2001",
        *,
        authorization: str | None = None,
        contact: str = "<sip:2001@10.0.0.5:5060>",
        expires: int = 300,
        user_agent: str = "Phone/1.0",
        source: Source = SOURCE,
    ) -> FakeTransaction:
        self.cseq += 1
        lines = [
            "REGISTER sip:pbx.test SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK" + str(self.cseq),
            f"From: <sip:{user}@pbx.test>;tag=f1",
            f"To: <sip:{user}@pbx.test>",
            "Call-ID: call-1",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: {contact}",
            f"Expires: {expires}",
            f"User-Agent: {user_agent}",
        ]
        if authorization:
            lines.append(f"Authorization: {authorization}")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        request = parse_message(data)
        assert isinstance(request, SipRequest)
        transaction = FakeTransaction(request, source)
        if self.handler.inspect(request, source):
            self.handler(transaction)  # type: ignore[arg-type]
        return transaction

    def login(
        self,
        user: str = "2001",
        username: str = "ana2001",
        password: str = PASSWORD,
        algorithm: str = "MD5",
        **kwargs: object,
    ) -> FakeTransaction:
        first = self.register(user, **kwargs)  # type: ignore[arg-type]
        assert first.status == 401
        challenges = [parse_challenge(v) for v in first.header("WWW-Authenticate")]
        challenge = next(c for c in challenges if c.algorithm == algorithm)
        auth = build_authorization(
            challenge, method="REGISTER", uri="sip:pbx.test", username=username, password=password
        )
        return self.register(user, authorization=auth, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def env() -> Env:
    return Env()


def test_challenge_offers_md5_and_sha256(env: Env) -> None:
    answer = env.register()
    assert answer.status == 401
    challenges = [parse_challenge(v) for v in answer.header("WWW-Authenticate")]
    assert [c.algorithm for c in challenges] == ["MD5", "SHA-256"]
    assert all(c.qop == ["auth"] and c.realm == "KiloPBX" for c in challenges)


def test_challenge_order_is_configurable() -> None:
    env = Env(RegistrarConfig(algorithms=("SHA-256", "MD5")))
    challenges = [parse_challenge(v) for v in env.register().header("WWW-Authenticate")]
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]


def test_md5_only_for_agents_that_choke_on_unknown_algorithms(env: Env) -> None:
    answer = env.register(user_agent="baresip v1.0.0 (x86_64/linux)")
    challenges = [parse_challenge(v) for v in answer.header("WWW-Authenticate")]
    assert [c.algorithm for c in challenges] == ["MD5"]
    assert env.login(user_agent="baresip v1.0.0 (x86_64/linux)").status == 200


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_register_with_digest(env: Env, algorithm: str) -> None:
    answer = env.login(algorithm=algorithm)
    assert answer.status == 200
    assert answer.header("Contact") == ["<sip:2001@10.0.0.5:5060>;expires=300"]
    assert answer.header("Date") == ["Tue, 14 Nov 2023 22:13:20 GMT"]
    assert env.core.is_registered("2001")


def test_number_as_digest_username_and_auth_name_as_aor(env: Env) -> None:
    assert env.login(username="2001").status == 200
    assert env.login(user="ana2001").status == 200
    assert env.core.is_registered("2001")


def test_other_accounts_credentials_refused(env: Env) -> None:
    answer = env.login(user="2002", username="ana2001")
    assert answer.status == 403
    assert not env.core.is_registered("2002")


def test_unknown_user_fails_like_wrong_password(env: Env) -> None:
    unknown = env.login(user="9999", username="nobody")
    wrong = env.login(password="WrongPassword123x")
    assert unknown.status == wrong.status == 403
    assert unknown.answers[-1][1] == wrong.answers[-1][1]
    assert env.register("9999").status == 401  # unknown users are challenged too


def test_stale_nonce(env: Env) -> None:
    first = env.register()
    challenge = parse_challenge(first.header("WWW-Authenticate")[0])
    env.clock.advance(301)
    auth = build_authorization(
        challenge, method="REGISTER", uri="sip:pbx.test", username="ana2001", password=PASSWORD
    )
    answer = env.register(authorization=auth)
    assert answer.status == 401
    assert all("stale=true" in v for v in answer.header("WWW-Authenticate"))
    wrong = build_authorization(
        challenge, method="REGISTER", uri="sip:pbx.test", username="ana2001", password="nope"
    )
    assert env.register(authorization=wrong).status == 403  # stale but wrong: a failure


def test_foreign_nonce_is_rechallenged_without_strike(env: Env) -> None:
    auth = (
        'Digest username="ana2001", realm="KiloPBX", nonce="bogus", uri="sip:pbx.test", '
        'response="00000000000000000000000000000000", algorithm=MD5'
    )
    for _ in range(5):
        assert env.register(authorization=auth).status == 401
    assert not env.bans.is_banned(SOURCE.host)


def test_replayed_authorization_is_not_accepted_twice(env: Env) -> None:
    first = env.register()
    challenge = parse_challenge(first.header("WWW-Authenticate")[1])
    auth = build_authorization(
        challenge, method="REGISTER", uri="sip:pbx.test", username="ana2001", password=PASSWORD
    )
    assert env.register(authorization=auth).status == 200
    assert env.register(authorization=auth).status == 401  # same nc: stale, retry fresh


def test_repeated_failures_ban_the_source(env: Env) -> None:
    for _ in range(3):
        assert env.login(password="WrongPassword123x").status == 403
    assert env.bans.is_banned(SOURCE.host)
    assert not env.bans.allow(SOURCE.host)
    assert env.bans.allow("10.0.0.99")
    env.clock.advance(601)
    assert env.bans.allow(SOURCE.host)


@pytest.mark.parametrize(
    "agent", ["friendly-scanner", "sipvicious", "SIPCLI/3.0", "VaxSIPUserAgent/3.1", "iWar"]
)
def test_scanners_are_dropped_silently(env: Env, agent: str) -> None:
    answer = env.register(user_agent=agent)
    assert answer.answers == []
    assert env.handler.scanners == 1


def test_min_expires_and_bad_contact(env: Env) -> None:
    answer = env.login(expires=10)
    assert answer.status == 423
    assert answer.header("Min-Expires") == ["60"]
    bad = env.login(contact='<sip:2001@10.0.0.5>;expires="soon"')
    assert bad.status == 400


def test_records_source_path(env: Env) -> None:
    source = Source("tcp", "203.0.113.7", 40123)
    env.login(contact="<sip:2001@192.168.1.20:5060;transport=tcp>", source=source)
    (binding,) = env.core.bindings("2001")
    assert (binding.transport, binding.host, binding.port) == ("tcp", "203.0.113.7", 40123)
    assert binding.uri == "sip:2001@192.168.1.20:5060;transport=tcp"
    assert binding.user_agent == "Phone/1.0"
