"""The registration machine of a register trunk, driven by hand (no sockets, no sleep)."""

from __future__ import annotations

import pytest

from kilopbx.apps.trunks.registration import (
    FAILURE,
    MAX_ROUNDS,
    REGISTERED,
    REGISTERING,
    Answer,
    Registration,
    refresh_delay,
    strongest_challenge,
)
from kilopbx.sip.digest import build_challenge, parse_authorization, verify_response

URI = "sip:carrier.example"
MD5 = build_challenge("carrier", "n1", algorithm="MD5")
SHA = build_challenge("carrier", "n2", algorithm="SHA-256")


def machine(now: float = 0.0) -> Registration:
    return Registration(
        user="88017734",
        password="tR7#wq2Lm9",
        uri=URI,
        expires=3600,
        retry_min=5,
        retry_max=300,
        now=now,
    )


def test_first_request_is_unauthenticated_and_the_challenge_is_answered_at_once() -> None:
    m = machine()
    assert m.state == REGISTERING and m.next_at == 0.0
    plan = m.request(0.0)
    assert plan.expires == 3600 and plan.authorization is None and m.next_at is None
    m.answered(Answer(401, (MD5,)), 0.1)
    assert m.next_at == 0.1 and m.state == REGISTERING
    name, value = m.request(0.1).authorization or ("", "")
    assert name == "Authorization"
    credentials = parse_authorization(value)
    assert credentials.username == "88017734" and credentials.uri == URI
    assert verify_response(credentials, "REGISTER", password="tR7#wq2Lm9")
    m.answered(Answer(200, granted=120), 0.2)
    assert m.state == REGISTERED and m.granted == 120
    assert m.next_at == pytest.approx(0.2 + refresh_delay(120))
    assert "tR7#wq2Lm9" not in repr(m)


def test_sha256_is_preferred_and_407_answers_with_proxy_authorization() -> None:
    assert strongest_challenge((MD5, SHA)).algorithm == "SHA-256"  # type: ignore[union-attr]
    assert strongest_challenge(("Basic realm=x", "garbage")) is None
    m = machine()
    m.request(0)
    m.answered(Answer(407, (MD5, SHA)), 0)
    name, value = m.request(0).authorization or ("", "")
    assert name == "Proxy-Authorization" and "algorithm=SHA-256" in value
    assert verify_response(parse_authorization(value), "REGISTER", password="tR7#wq2Lm9")


def test_wrong_credentials_fail_without_spinning_and_back_off() -> None:
    m = machine()
    m.request(0)
    m.answered(Answer(401, (MD5,)), 0)
    m.request(0)
    m.answered(Answer(401, (build_challenge("carrier", "n9"),)), 0)
    assert m.state == FAILURE and m.next_at == 5
    m.request(5)
    m.answered(Answer(403), 5)
    assert m.next_at == 5 + 10  # doubled
    for _ in range(20):
        m.request(0)
        m.no_answer(0)
    assert m.next_at == 300  # capped


def test_stale_nonces_are_answered_but_rounds_are_bounded() -> None:
    m = machine()
    sent = 0
    stale = build_challenge("carrier", "s", stale=True)
    while m.next_at == 0 and sent < 50:
        m.request(0)
        sent += 1
        m.answered(Answer(401, (stale,)), 0)
    assert sent == MAX_ROUNDS and m.state == FAILURE


def test_refresh_keeps_registered_and_a_failed_refresh_shows_failure() -> None:
    m = machine()
    m.request(0)
    m.answered(Answer(200, granted=60), 0)
    m.request(30)
    assert m.state == REGISTERED  # a refresh in flight does not flicker
    m.no_answer(38)
    assert m.state == FAILURE and m.next_at == 43
    m.request(43)
    assert m.state == REGISTERING
    m.answered(Answer(200, granted=None), 43)
    assert m.state == REGISTERED and m.granted == 3600 and m.failures == 0


def test_423_asks_for_min_expires_and_retry_after_is_honoured() -> None:
    m = machine()
    m.expires = 30
    m.request(0)
    m.answered(Answer(423, min_expires=600), 0)
    assert m.request(0).expires == 600
    m.answered(Answer(503, retry_after=120), 0)
    assert m.state == FAILURE and m.next_at == 120
    m.request(120)
    m.answered(Answer(423, min_expires=10**9), 120)  # absurd: refused
    assert m.state == FAILURE


def test_refresh_delay_is_before_expiry() -> None:
    for granted in (1, 10, 59, 60, 120, 3600, 86400):
        assert 0 < refresh_delay(granted) < granted or granted == 1
