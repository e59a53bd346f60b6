"""Digest authentication: published vectors, challenge/response round trips, nonces."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kilopbx.sip.digest import (
    AuthResult,
    DigestChallenge,
    DigestError,
    NonceManager,
    NonceStatus,
    authenticate,
    build_authorization,
    build_challenge,
    compute_ha1,
    digest_uri_matches,
    parse_authorization,
    parse_challenge,
    verify_response,
)
from kilopbx.sip.uri import parse_any_uri

SECRET = b"0123456789abcdef0123456789abcdef"

RFC2617_EXAMPLE = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC7616_SHA256_EXAMPLE = (
    'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", '
    'algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
    'nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, '
    'response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", '
    'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
)


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rfc2617_example_verifies_with_password_and_ha1() -> None:
    credentials = parse_authorization(RFC2617_EXAMPLE)
    assert credentials.username == "Mufasa"
    assert credentials.qop == "auth" and credentials.nc == "00000001"
    assert credentials.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert verify_response(credentials, "GET", password="Circle Of Life")
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert verify_response(credentials, "GET", ha1=ha1)
    assert not verify_response(credentials, "GET", password="circle of life")
    assert not verify_response(credentials, "POST", password="Circle Of Life")


def test_rfc7616_sha256_and_md5_examples() -> None:
    credentials = parse_authorization(RFC7616_SHA256_EXAMPLE)
    assert credentials.algorithm == "SHA-256"
    assert verify_response(credentials, "GET", password="Circle of Life")
    credentials.algorithm = "MD5"
    credentials.response = "8ca523f5e9506fed4657c9700eebdbec"
    assert verify_response(credentials, "GET", password="Circle of Life")


def test_needs_exactly_one_secret() -> None:
    credentials = parse_authorization(RFC2617_EXAMPLE)
    with pytest.raises(ValueError):
        verify_response(credentials, "GET")
    with pytest.raises(ValueError):
        verify_response(credentials, "GET", password="x", ha1="y")


@pytest.mark.parametrize(
    "value",
    [
        "Basic dXNlcjpwYXNz",
        'Digest realm="r", nonce="n"',
        'Digest username="u", realm="r", nonce="n", uri="sip:x", response="1", qop=auth',
        'Digest username="u, realm="r"',
        "",
    ],
)
def test_unusable_authorization_headers(value: str) -> None:
    with pytest.raises(DigestError):
        parse_authorization(value)


def test_unknown_algorithm_never_verifies() -> None:
    credentials = parse_authorization(RFC2617_EXAMPLE)
    credentials.algorithm = "SHA-1"
    assert not verify_response(credentials, "GET", password="Circle Of Life")


def test_challenge_renders_and_parses_back() -> None:
    challenge = DigestChallenge("pbx.example", "abc", opaque="op", algorithm="SHA-256", stale=True)
    text = str(challenge)
    assert text == (
        'Digest realm="pbx.example", nonce="abc", opaque="op", algorithm=SHA-256, '
        'qop="auth", stale=true'
    )
    assert parse_challenge(text) == challenge
    assert (
        build_challenge("pbx.example", "abc", opaque="op", algorithm="SHA-256", stale=True) == text
    )


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", "MD5-sess", "SHA-256-sess"])
def test_client_answer_is_accepted_by_server(algorithm: str) -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock)
    challenge = DigestChallenge("pbx.example", nonces.issue(), algorithm=algorithm)
    header = build_authorization(
        parse_challenge(str(challenge)),
        method="REGISTER",
        uri="sip:pbx.example",
        username="1001",
        password="s3cret",
    )
    credentials = parse_authorization(header)
    assert authenticate(credentials, "REGISTER", nonces, password="s3cret") is AuthResult.OK
    # The same nonce-count again is a replay.
    assert authenticate(credentials, "REGISTER", nonces, password="s3cret") is AuthResult.STALE
    assert authenticate(credentials, "REGISTER", nonces, password="wrong") is AuthResult.FAILED


def test_rfc2069_client_without_qop() -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock)
    challenge = DigestChallenge("pbx.example", nonces.issue(), qop=[])
    header = build_authorization(
        challenge, method="INVITE", uri="sip:2000@pbx", username="1001", password="pw"
    )
    assert "qop" not in header and "cnonce" not in header
    credentials = parse_authorization(header)
    ha1 = compute_ha1("1001", "pbx.example", "pw")
    # Replayable (no nonce-count): refused unless explicitly allowed.
    assert authenticate(credentials, "INVITE", nonces, ha1=ha1) is AuthResult.FAILED
    assert authenticate(credentials, "INVITE", nonces, ha1=ha1, allow_rfc2069=True) is (
        AuthResult.OK
    )
    clock.now += 301
    assert authenticate(credentials, "INVITE", nonces, ha1=ha1, allow_rfc2069=True) is (
        AuthResult.STALE
    )


@pytest.mark.parametrize(
    ("digest_uri", "request_uri", "matches"),
    [
        ("sip:pbx.example", "sip:pbx.example", True),
        ("sip:pbx.example:5060", "sip:PBX.example", True),
        ("sip:pbx.example;transport=tcp", "sip:pbx.example", True),
        ("sip:2000@10.0.0.1:5070", "sip:2000@10.0.0.1:5070;user=phone", True),
        ("sip:[2001:db8::1]", "sip:[2001:db8:0::1]:5060", True),
        ("tel:+15551234", "tel:+15551234", True),
        ("sip:other.example", "sip:pbx.example", False),
        ("sip:2001@pbx.example", "sip:2000@pbx.example", False),
        ("sip:pbx.example:5070", "sip:pbx.example", False),
        ("sips:pbx.example", "sip:pbx.example", False),
        ("not a uri", "sip:pbx.example", False),
        ("", "sip:pbx.example", False),
    ],
)
def test_digest_uri_must_name_the_request_uri(
    digest_uri: str, request_uri: str, matches: bool
) -> None:
    assert digest_uri_matches(digest_uri, parse_any_uri(request_uri)) is matches


def test_auth_int_covers_the_body() -> None:
    nonces = NonceManager(SECRET, clock=FakeClock())
    challenge = DigestChallenge("r", nonces.issue(), qop=["auth-int"])
    header = build_authorization(
        challenge, method="INVITE", uri="sip:x@r", username="u", password="p", body=b"v=0\r\n"
    )
    credentials = parse_authorization(header)
    assert credentials.qop == "auth-int"
    assert authenticate(credentials, "INVITE", nonces, password="p", body=b"v=0\r\n") is (
        AuthResult.OK
    )
    assert not verify_response(credentials, "INVITE", password="p", body=b"v=1\r\n")


def test_nonce_lifecycle_with_injected_clock() -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock, lifetime=60)
    nonce = nonces.issue()
    assert nonces.check(nonce) is NonceStatus.VALID
    clock.now += 59
    assert nonces.check(nonce) is NonceStatus.VALID
    clock.now += 2
    assert nonces.check(nonce) is NonceStatus.STALE


def test_foreign_or_tampered_nonces_are_invalid() -> None:
    clock = FakeClock()
    ours = NonceManager(SECRET, clock=clock)
    theirs = NonceManager(b"another secret of 32 bytes......", clock=clock)
    assert ours.check(theirs.issue()) is NonceStatus.INVALID
    nonce = ours.issue()
    tampered = ("A" if nonce[0] != "A" else "B") + nonce[1:]
    assert ours.check(tampered) is NonceStatus.INVALID
    for junk in ("", "not base64!", "é", "AAAA"):
        assert ours.check(junk) is NonceStatus.INVALID


def test_nonce_from_the_future_is_invalid() -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock)
    nonce = nonces.issue()
    clock.now -= 60
    assert nonces.check(nonce) is NonceStatus.INVALID


def test_nonce_count_must_increase() -> None:
    nonces = NonceManager(SECRET, clock=FakeClock())
    nonce = nonces.issue()
    assert nonces.check_count(nonce, 1) is NonceStatus.VALID
    assert nonces.check_count(nonce, 2) is NonceStatus.VALID
    assert nonces.check_count(nonce, 2) is NonceStatus.STALE
    assert nonces.check_count(nonce, 1) is NonceStatus.STALE
    assert nonces.check_count(nonce, 0) is NonceStatus.INVALID


def test_replay_memory_is_bounded_and_fails_safe() -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock, max_tracked=10)
    issued = []
    for _ in range(25):
        clock.now += 0.01
        nonce = nonces.issue()
        issued.append(nonce)
        assert nonces.check_count(nonce, 1) is NonceStatus.VALID
    assert nonces.tracked <= 10
    # An evicted nonce cannot be checked for replay any more, so it is stale.
    assert nonces.check_count(issued[0], 2) is NonceStatus.STALE
    assert nonces.check_count(issued[-1], 2) is NonceStatus.VALID


def test_expired_entries_leave_the_replay_table() -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock, lifetime=10)
    nonces.check_count(nonces.issue(), 1)
    clock.now += 11
    nonces.check_count(nonces.issue(), 1)
    assert nonces.tracked == 1


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        NonceManager(b"short")


def test_nonce_bound_to_a_client_address_checks_out_only_for_it() -> None:
    clock = FakeClock()
    nonces = NonceManager(SECRET, clock=clock)
    bound = nonces.issue("10.0.0.1")
    assert nonces.check(bound, "10.0.0.1") is NonceStatus.VALID
    assert nonces.check(bound, "10.0.0.2") is NonceStatus.INVALID
    assert nonces.check(bound) is NonceStatus.INVALID
    assert nonces.check_count(bound, 1, "10.0.0.2") is NonceStatus.INVALID
    assert nonces.check_count(bound, 1, "10.0.0.1") is NonceStatus.VALID
    unbound = nonces.issue()  # the old API is unchanged
    assert nonces.check(unbound) is NonceStatus.VALID
    assert nonces.check(unbound, "10.0.0.1") is NonceStatus.INVALID
    challenge = DigestChallenge("r", nonces.issue("10.0.0.1"))
    header = build_authorization(
        challenge, method="REGISTER", uri="sip:r", username="u", password="p"
    )
    credentials = parse_authorization(header)
    assert authenticate(credentials, "REGISTER", nonces, password="p", bound_to="10.0.0.2") is (
        AuthResult.FAILED
    )
    assert authenticate(credentials, "REGISTER", nonces, password="p", bound_to="10.0.0.1") is (
        AuthResult.OK
    )


@pytest.mark.parametrize("realm", ["kilopbx", 'odd "realm" \\ here'])
@pytest.mark.parametrize("nonce", ["bm9uY2U-_x==", 'with "quotes"', "back\\slash"])
@pytest.mark.parametrize("stale", [False, True])
@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_a_challenge_from_the_template_renders_as_the_model(
    realm: str, nonce: str, stale: bool, algorithm: str
) -> None:
    expected = str(DigestChallenge(realm, nonce, algorithm=algorithm, stale=stale))
    assert build_challenge(realm, nonce, algorithm=algorithm, stale=stale) == expected
    assert parse_challenge(expected).nonce == nonce


@pytest.mark.parametrize("secret_length", [16, 32, 64, 65, 100])
@pytest.mark.parametrize("bound_to", [None, "192.0.2.7"])
def test_nonce_mac_is_hmac_sha256_so_nonces_out_before_an_upgrade_stay_valid(
    secret_length: int, bound_to: str | None
) -> None:
    secret = bytes(range(7, 7 + secret_length))
    nonces = NonceManager(secret, clock=FakeClock(), random_bytes=lambda n: b"\xa5" * n)
    raw = base64.urlsafe_b64decode(nonces.issue(bound_to))
    payload, mac = raw[:-16], raw[-16:]
    message = payload if bound_to is None else payload + b"\x00" + bound_to.encode()
    assert mac == hmac.new(secret, message, hashlib.sha256).digest()[:16]
