"""HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760; RFC 3261 §22.4).

Server side: challenges, parsing of Authorization/Proxy-Authorization, checking a
response against a password or a stored HA1 together with a NonceManager.
Client side: answering a challenge from a trunk.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import os
import re
from dataclasses import dataclass, field
from typing import Final

from kilopbx.sip.errors import HeaderValueError, UriParseError
from kilopbx.sip.grammar import TOKEN_CHARS, quote, read_quoted, skip_ws
from kilopbx.sip.nonce import NonceManager, NonceStatus
from kilopbx.sip.uri import AbsoluteUri, SipUri, TelUri, hosts_equal, parse_any_uri, uri_equal

__all__ = [
    "AuthResult",
    "DigestChallenge",
    "DigestCredentials",
    "DigestError",
    "NonceManager",
    "NonceStatus",
    "authenticate",
    "build_authorization",
    "build_challenge",
    "compute_ha1",
    "compute_response",
    "digest_uri_matches",
    "parse_authorization",
    "parse_challenge",
    "verify_response",
]


class DigestError(ValueError):
    """A credentials or challenge header that is not usable digest."""


class AuthResult(enum.Enum):
    OK = "ok"
    STALE = "stale"  # right password, old nonce: challenge again with stale=true
    FAILED = "failed"


def _h(algorithm: str, text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    base = algorithm.upper().removesuffix("-SESS")
    if base == "MD5":
        return hashlib.md5(data).hexdigest()
    if base == "SHA-256":
        return hashlib.sha256(data).hexdigest()
    raise DigestError(f"unsupported digest algorithm {algorithm!r}")


# One ``name=value`` or ``name="value"`` (no escapes) and its comma: what every client
# sends. A header made only of those is read by one ``split``: the text between the
# matches must be empty. Anything else is read character by character.
_PLAIN_PARAM_RE: Final = re.compile(
    r"[ \t]*([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*=[ \t]*"
    r'(?:"([^"\\]*)"|([^", \t]*))[ \t]*(?:,|$)'
)


def _plain_params(rest: str) -> dict[str, str] | None:
    # [before, name, quoted, token, between, name, quoted, token, ..., after]
    parts = _PLAIN_PARAM_RE.split(rest)
    if any(parts[0::4]):
        return None
    return {
        parts[i].lower(): parts[i + 1] or parts[i + 2] or "" for i in range(1, len(parts) - 1, 4)
    }


def parse_auth_params(text: str) -> tuple[str, dict[str, str]]:
    """Split ``Scheme name=value, name="quoted", ...`` into the scheme and its params."""
    text = text.strip()
    scheme, _, rest = text.partition(" ")
    if not scheme or not all(char in TOKEN_CHARS for char in scheme):
        raise DigestError("missing authentication scheme")
    plain = _plain_params(rest)
    if plain is not None and (plain or not rest.strip(", \t")):
        return scheme, plain
    return scheme, _read_auth_params(rest)


def _read_auth_params(rest: str) -> dict[str, str]:
    """The full reader of ``name=value, name="quoted", ...`` (escapes, odd spacing)."""
    params: dict[str, str] = {}
    index, length = 0, len(rest)
    while True:
        index = skip_ws(rest, index)
        while index < length and rest[index] in ", \t":
            index += 1
        if index >= length:
            return params
        start = index
        while index < length and rest[index] in TOKEN_CHARS:
            index += 1
        name = rest[start:index].lower()
        index = skip_ws(rest, index)
        if not name or index >= length or rest[index] != "=":
            raise DigestError(f"bad auth-param near {rest[start : start + 30]!r}")
        index = skip_ws(rest, index + 1)
        if index < length and rest[index] == '"':
            try:
                value, index = read_quoted(rest, index)
            except HeaderValueError as exc:
                raise DigestError(str(exc)) from exc
        else:
            start = index
            while index < length and rest[index] not in ", \t":
                index += 1
            value = rest[start:index]
        params[name] = value


@dataclass(slots=True)
class DigestCredentials:
    """A parsed Authorization or Proxy-Authorization header."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        username: str,
        realm: str,
        nonce: str,
        uri: str,
        response: str,
        algorithm: str = "MD5",
        qop: str | None = None,
        nc: str | None = None,
        cnonce: str | None = None,
        opaque: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.username = username
        self.realm = realm
        self.nonce = nonce
        self.uri = uri
        self.response = response
        self.algorithm = algorithm
        self.qop = qop
        self.nc = nc
        self.cnonce = cnonce
        self.opaque = opaque
        self.params = {} if params is None else params


def parse_authorization(value: str) -> DigestCredentials:
    scheme, params = parse_auth_params(value)
    if scheme.lower() != "digest":
        raise DigestError(f"not a digest scheme: {scheme!r}")
    missing = [n for n in ("username", "realm", "nonce", "uri", "response") if n not in params]
    if missing:
        raise DigestError(f"missing {', '.join(missing)}")
    qop = params.get("qop")
    if qop is not None and ("nc" not in params or "cnonce" not in params):
        raise DigestError("qop without nc and cnonce")
    return DigestCredentials(
        username=params["username"],
        realm=params["realm"],
        nonce=params["nonce"],
        uri=params["uri"],
        response=params["response"].lower(),
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        nc=params.get("nc"),
        cnonce=params.get("cnonce"),
        opaque=params.get("opaque"),
        params=params,
    )


@dataclass(slots=True)
class DigestChallenge:
    """A WWW-Authenticate / Proxy-Authenticate digest challenge; str() renders it."""

    realm: str
    nonce: str
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: list[str] = field(default_factory=lambda: ["auth"])
    stale: bool = False

    def __str__(self) -> str:
        parts = [f"realm={quote(self.realm)}", f"nonce={quote(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f"qop={quote(','.join(self.qop))}")
        if self.stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)


@functools.lru_cache(maxsize=64)
def _challenge_template(realm: str, algorithm: str, stale: bool) -> tuple[str, str]:
    """What comes before and after the nonce's text in a challenge without opaque."""
    text = str(DigestChallenge(realm, _NONCE_MARK, None, algorithm, ["auth"], stale))
    before, marked, after = text.partition(f'"{_NONCE_MARK}"')
    assert marked, "the challenge renders its nonce as a quoted-string"
    return before + '"', '"' + after


_NONCE_MARK: Final = "\x00nonce"


def build_challenge(
    realm: str,
    nonce: str,
    *,
    opaque: str | None = None,
    algorithm: str = "MD5",
    stale: bool = False,
) -> str:
    """A WWW-Authenticate/Proxy-Authenticate value offering qop="auth"."""
    if opaque is None and '"' not in nonce and "\\" not in nonce:
        # the common case, a challenge per REGISTER: only the nonce differs
        before, after = _challenge_template(realm, algorithm, stale)
        return before + nonce + after
    return str(DigestChallenge(realm, nonce, opaque, algorithm, ["auth"], stale))


def parse_challenge(value: str) -> DigestChallenge:
    scheme, params = parse_auth_params(value)
    if scheme.lower() != "digest":
        raise DigestError(f"not a digest scheme: {scheme!r}")
    if "realm" not in params or "nonce" not in params:
        raise DigestError("challenge without realm or nonce")
    qop = [item.strip() for item in params.get("qop", "").split(",") if item.strip()]
    return DigestChallenge(
        realm=params["realm"],
        nonce=params["nonce"],
        opaque=params.get("opaque"),
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        stale=params.get("stale", "").lower() == "true",
    )


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password), what a user database may store instead of passwords."""
    return _h(algorithm, f"{username}:{realm}:{password}")


def compute_response(
    *,
    ha1: str,
    algorithm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The request-digest of RFC 7616 §3.4.1 (RFC 2069 form when ``qop`` is None)."""
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = _h(algorithm, f"{method}:{uri}:{_h(algorithm, body)}")
    else:
        ha2 = _h(algorithm, f"{method}:{uri}")
    if qop is None:
        return _h(algorithm, f"{ha1}:{nonce}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def verify_response(
    credentials: DigestCredentials,
    method: str,
    *,
    password: str | None = None,
    ha1: str | None = None,
    body: bytes = b"",
) -> bool:
    """Check the response hash with the plaintext password or a precomputed HA1."""
    if (password is None) == (ha1 is None):
        raise ValueError("give exactly one of password and ha1")
    try:
        if ha1 is None:
            assert password is not None
            ha1 = compute_ha1(
                credentials.username, credentials.realm, password, credentials.algorithm
            )
        if credentials.qop not in (None, "auth", "auth-int"):
            return False
        expected = compute_response(
            ha1=ha1,
            algorithm=credentials.algorithm,
            method=method,
            uri=credentials.uri,
            nonce=credentials.nonce,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
            body=body,
        )
    except DigestError:
        return False
    return hmac.compare_digest(expected.encode(), credentials.response.encode())


def authenticate(
    credentials: DigestCredentials,
    method: str,
    nonces: NonceManager,
    *,
    password: str | None = None,
    ha1: str | None = None,
    body: bytes = b"",
    allow_rfc2069: bool = False,
    bound_to: str | None = None,
) -> AuthResult:
    """Verify the hash first (so guesses cannot burn nonce counts), then the nonce.

    An answer without qop (RFC 2069) has no nonce-count, so it can be replayed for
    as long as its nonce lives; it fails unless ``allow_rfc2069`` says otherwise.
    ``bound_to`` is the client address the nonce was issued for (if any).
    """
    if credentials.qop is None and not allow_rfc2069:
        return AuthResult.FAILED
    if not verify_response(credentials, method, password=password, ha1=ha1, body=body):
        return AuthResult.FAILED
    if credentials.qop is None:
        status = nonces.check(credentials.nonce, bound_to)  # RFC 2069 clients send no nonce-count
    else:
        try:
            count = int(credentials.nc or "", 16)
        except ValueError:
            return AuthResult.FAILED
        status = nonces.check_count(credentials.nonce, count, bound_to)
    if status is NonceStatus.VALID:
        return AuthResult.OK
    if status is NonceStatus.STALE:
        return AuthResult.STALE
    return AuthResult.FAILED


def digest_uri_matches(digest_uri: str, request_uri: SipUri | TelUri | AbsoluteUri) -> bool:
    """Does the credentials' ``uri`` name the Request-URI (RFC 3261 §22.4)? Otherwise
    an answer captured for one request could be offered with another.

    SIP URIs are compared leniently, on scheme, user, host and port (a default port
    equals none), as phones differ in the URI parameters they repeat.
    """
    try:
        claimed = parse_any_uri(digest_uri)
    except UriParseError:
        return False
    if isinstance(claimed, SipUri) and isinstance(request_uri, SipUri):
        default_port = 5061 if claimed.scheme == "sips" else 5060
        return (
            claimed.scheme == request_uri.scheme
            and claimed.user == request_uri.user
            and hosts_equal(claimed.host, request_uri.host)
            and (claimed.port or default_port) == (request_uri.port or default_port)
        )
    return uri_equal(claimed, request_uri)


def build_authorization(
    challenge: DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """Client side: the Authorization/Proxy-Authorization value answering ``challenge``."""
    qop = None
    if "auth" in challenge.qop:
        qop = "auth"
    elif "auth-int" in challenge.qop:
        qop = "auth-int"
    nc_text = f"{nc:08x}"
    if qop is not None and cnonce is None:
        cnonce = os.urandom(12).hex()
    ha1 = compute_ha1(username, challenge.realm, password, challenge.algorithm)
    response = compute_response(
        ha1=ha1,
        algorithm=challenge.algorithm,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=body,
    )
    parts = [
        f"username={quote(username)}",
        f"realm={quote(challenge.realm)}",
        f"nonce={quote(challenge.nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(response)}",
        f"algorithm={challenge.algorithm}",
    ]
    if qop is not None:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={quote(cnonce or '')}"]
    if challenge.opaque is not None:
        parts.append(f"opaque={quote(challenge.opaque)}")
    return "Digest " + ", ".join(parts)
