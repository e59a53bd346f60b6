"""RegisterHandler against replay and abuse: answers without qop, digest URIs that
name another request, scanner strikes by transport, nonces bound to the source."""

from __future__ import annotations

import pytest

from kilopbx.sip.digest import build_authorization, parse_challenge
from kilopbx.sip.transport import Source
from tests.unit.registrar.test_handler import PASSWORD, SOURCE, Env


@pytest.fixture
def env() -> Env:
    return Env()


def _answer(env: Env, *, uri: str = "sip:pbx.test", qop: bool = True) -> str:
    first = env.register()
    assert first.status == 401
    challenge = parse_challenge(first.header("WWW-Authenticate")[0])
    if not qop:
        challenge.qop = []
    return build_authorization(
        challenge, method="REGISTER", uri=uri, username="ana2001", password=PASSWORD
    )


def test_answer_without_qop_is_rechallenged_without_strike(env: Env) -> None:
    for _ in range(5):
        auth = _answer(env, qop=False)
        assert "qop" not in auth
        answer = env.register(authorization=auth)
        assert answer.status == 401
        assert answer.header("WWW-Authenticate")
    assert not env.core.is_registered("2001")
    assert not env.bans.is_banned(SOURCE.host)


@pytest.mark.parametrize("uri", ["sip:pbx.test:5060", "sip:PBX.test;transport=udp"])
def test_digest_uri_may_differ_from_request_uri_in_form(env: Env, uri: str) -> None:
    assert env.register(authorization=_answer(env, uri=uri)).status == 200


@pytest.mark.parametrize("uri", ["sip:other.test", "sip:2001@pbx.test", "sip:pbx.test:5070"])
def test_digest_uri_naming_another_request_fails(env: Env, uri: str) -> None:
    answer = env.register(authorization=_answer(env, uri=uri))
    assert answer.status == 403
    assert not env.core.is_registered("2001")


def test_scanner_over_udp_is_dropped_without_strike() -> None:
    env = Env()
    for _ in range(5):
        assert env.register(user_agent="friendly-scanner").answers == []
    assert env.handler.scanners == 5
    assert not env.bans.is_banned(SOURCE.host)


def test_scanner_over_tcp_counts_toward_a_ban() -> None:
    env = Env()
    source = Source("tcp", "10.0.0.9", 40000)
    for _ in range(3):
        assert env.register(user_agent="friendly-scanner", source=source).answers == []
    assert env.bans.is_banned(source.host)


def test_nonce_fetched_from_one_address_earns_no_strike_for_another(env: Env) -> None:
    first = env.register()  # the challenge goes to SOURCE
    challenge = parse_challenge(first.header("WWW-Authenticate")[0])
    victim = Source("udp", "10.0.0.77", 5060)
    for _ in range(5):
        wrong = build_authorization(
            challenge, method="REGISTER", uri="sip:pbx.test", username="ana2001", password="x"
        )
        assert env.register(authorization=wrong, source=victim).status == 401
    assert not env.bans.is_banned(victim.host)
    right = build_authorization(
        challenge, method="REGISTER", uri="sip:pbx.test", username="ana2001", password=PASSWORD
    )
    assert env.register(authorization=right, source=victim).status == 401
    assert env.register(authorization=right).status == 200  # from the address it was sent to
