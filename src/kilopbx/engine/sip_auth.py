"""Digest authentication of SIP requests from extensions, shared by REGISTER and INVITE.

One directory lookup in memory, one nonce check, one digest: no database read. The
registrar builds the authenticator (with its realm, algorithms, nonce secret and ban
list) and publishes it as ``SIP_AUTH``, so a phone's INVITE is checked with exactly the
same credentials, nonces and strikes as its REGISTER. REGISTER is challenged with
401/WWW-Authenticate, a call with 407/Proxy-Authenticate (RFC 3261 §22.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kilopbx.core.registry import Key
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.sip.digest import (
    AuthResult,
    DigestCredentials,
    DigestError,
    NonceManager,
    NonceStatus,
    authenticate,
    build_challenge,
    digest_uri_matches,
    parse_authorization,
)
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle


@dataclass(slots=True)
class AuthOutcome:
    account: SipAccount | None = None
    challenge: bool = False  # send a (fresh) challenge
    stale: bool = False
    failed: bool = False


@dataclass(frozen=True, slots=True)
class AuthHeaders:
    """Which headers carry the challenge and the answer: registrar or proxy style."""

    status: int
    challenge: str
    credentials: str


REGISTRAR_AUTH = AuthHeaders(401, "WWW-Authenticate", "Authorization")
PROXY_AUTH = AuthHeaders(407, "Proxy-Authenticate", "Proxy-Authorization")


class DigestAuthenticator:
    def __init__(
        self,
        directory: AccountDirectory,
        nonces: NonceManager,
        *,
        realm: str,
        algorithms: tuple[str, ...],
        md5_only_agents: tuple[str, ...] = (),
        on_failure: Callable[[str], object] | None = None,
    ) -> None:
        self.directory = directory
        self.nonces = nonces
        self.realm = realm
        self.algorithms = algorithms
        self.md5_only_agents = md5_only_agents
        self._on_failure = on_failure
        self.failures = 0
        # unknown users are checked against this secret nobody knows, so they take the
        # same path (and time) as a wrong password and fail the same way
        self._nobody_password = nonces.issue()

    def check(
        self,
        request: SipRequest,
        user: str,
        client: str,
        headers: AuthHeaders = REGISTRAR_AUTH,
    ) -> AuthOutcome:
        """Whether ``request`` from ``client`` (an IP) proves it is extension ``user``."""
        value = request.headers.get(headers.credentials)
        if value is None:
            return AuthOutcome(challenge=True)
        try:
            credentials = parse_authorization(value)
        except DigestError:
            return AuthOutcome(challenge=True)
        if credentials.realm != self.realm:
            return AuthOutcome(challenge=True)
        if credentials.algorithm.upper() not in self.algorithms:
            return AuthOutcome(challenge=True)
        # Nonces are bound to the address they were sent to, so one fetched from a
        # (real) address cannot earn strikes for another (forged) one.
        if self.nonces.check(credentials.nonce, client) is NonceStatus.INVALID:
            # not ours (another server's, another client's, or forged): challenge, no strike
            return AuthOutcome(challenge=True)
        if credentials.qop is None:
            # We offer qop=auth; an RFC 2069 answer has no nonce-count and could be
            # replayed while its nonce lives. Ask again, without a strike.
            return AuthOutcome(challenge=True)
        if not digest_uri_matches(credentials.uri, request.request_uri):
            return AuthOutcome(failed=True)  # credentials made for another request
        account = self._account_for(credentials, user)
        password = self._nobody_password if account is None else account.password
        result = authenticate(
            credentials, request.method, self.nonces, password=password, bound_to=client
        )
        if result is AuthResult.STALE and account is not None:
            return AuthOutcome(challenge=True, stale=True)
        if result is not AuthResult.OK or account is None:
            return AuthOutcome(failed=True)
        return AuthOutcome(account=account)

    def strike(self, client: str) -> None:
        """A failed authentication from ``client``: counted toward its ban."""
        self.failures += 1
        if self._on_failure is not None:
            self._on_failure(client)

    def challenge(
        self,
        transaction: ServerTransactionHandle,
        *,
        stale: bool = False,
        headers: AuthHeaders = REGISTRAR_AUTH,
    ) -> None:
        answer = self.challenge_headers(
            transaction.request, transaction.source.host, stale=stale, headers=headers
        )
        transaction.respond(headers.status, headers=answer)

    def challenge_headers(
        self,
        request: SipRequest,
        client: str,
        *,
        stale: bool = False,
        headers: AuthHeaders = REGISTRAR_AUTH,
    ) -> list[tuple[str, str]]:
        """The challenge header fields for ``request`` from ``client`` (a fresh nonce
        bound to that address, one field per algorithm offered)."""
        nonce = self.nonces.issue(client)
        return [
            (headers.challenge, build_challenge(self.realm, nonce, algorithm=alg, stale=stale))
            for alg in self._algorithms_for(request)
        ]

    def _account_for(self, credentials: DigestCredentials, user: str) -> SipAccount | None:
        directory = self.directory
        name = credentials.username
        account = directory.by_auth_name(name) or directory.by_number(name)
        if account is None:
            return None
        if user not in (account.number, account.auth_name):
            return None  # authenticated as one extension, claiming another
        return account

    def _algorithms_for(self, request: SipRequest) -> tuple[str, ...]:
        algorithms = self.algorithms
        quirky = self.md5_only_agents
        if quirky and len(algorithms) > 1 and "MD5" in algorithms:
            agent = request.headers.get("User-Agent") or ""
            if any(fragment in agent for fragment in quirky):
                return ("MD5",)
        return algorithms


SIP_AUTH: Key[DigestAuthenticator] = Key("SIP digest authentication")
