"""REGISTER handling: authentication, the defences, and turning a request into a
binding update on ``RegistrarCore``.

Per REGISTER: one directory lookup in memory, one nonce check, one digest, one
table update; no database read (writes are batched by ``BindingStore``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate

from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.apps.registrar.core import RegisterRequest, RegistrarCore
from kilopbx.apps.registrar.security import BanList, is_scanner
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.sip.digest import (
    AuthResult,
    DigestChallenge,
    DigestCredentials,
    DigestError,
    NonceManager,
    NonceStatus,
    authenticate,
    digest_uri_matches,
    parse_authorization,
)
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source
from kilopbx.sip.uri import SipUri

log = logging.getLogger(__name__)


@dataclass(slots=True)
class AuthOutcome:
    account: SipAccount | None = None
    challenge: bool = False  # send a (fresh) 401
    stale: bool = False
    failed: bool = False


class RegisterHandler:
    def __init__(
        self,
        core: RegistrarCore,
        directory: AccountDirectory,
        config: RegistrarConfig,
        nonces: NonceManager,
        bans: BanList,
        on_authenticated: Callable[[Source], None] | None = None,
    ) -> None:
        """``on_authenticated(source)``: a request from there passed digest auth."""
        self.core = core
        self.directory = directory
        self.config = config
        self.nonces = nonces
        self.bans = bans
        self.on_authenticated = on_authenticated
        # unknown users are checked against this secret nobody knows, so they take the
        # same path (and time) as a wrong password and fail the same way
        self._nobody_password = nonces.issue()
        self.failures = 0
        self.scanners = 0
        self._date_second = -1
        self._date_text = ""

    # -- stack hooks -----------------------------------------------------------------------

    def inspect(self, request: SipRequest, source: Source) -> bool:
        """Scanner User-Agents are dropped without an answer. Over a stream they count
        toward a ban; a UDP source can be forged, and a strike for it would let anyone
        get any address (a trunk, a phone) banned."""
        headers = request.headers
        if is_scanner(headers.get("User-Agent")) or is_scanner(headers.get("From")):
            self.scanners += 1
            if source.reliable:
                self.bans.failed(source.host)
            return False
        return True

    # -- REGISTER --------------------------------------------------------------------------

    def __call__(self, transaction: ServerTransactionHandle) -> None:
        request = transaction.request
        try:
            aor_user = _aor_user(request)
        except HeaderValueError:
            transaction.respond(400, "Bad To Header")
            return
        if aor_user is None:
            transaction.respond(404, "Not Found")
            return
        outcome = self._authenticate(request, aor_user, transaction.source.host)
        if outcome.challenge:
            self._challenge(transaction, stale=outcome.stale)
            return
        if outcome.failed or outcome.account is None:
            self.failures += 1
            self.bans.failed(transaction.source.host)
            transaction.respond(403, "Forbidden")
            return
        if self.on_authenticated is not None:
            self.on_authenticated(transaction.source)
        self._update(transaction, outcome.account)

    def _authenticate(self, request: SipRequest, aor_user: str, client: str) -> AuthOutcome:
        value = request.headers.get("Authorization")
        if value is None:
            return AuthOutcome(challenge=True)
        try:
            credentials = parse_authorization(value)
        except DigestError:
            return AuthOutcome(challenge=True)
        if credentials.realm != self.config.realm:
            return AuthOutcome(challenge=True)
        if credentials.algorithm.upper() not in self.config.algorithms:
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
        account = self._account_for(credentials, aor_user)
        password = self._nobody_password if account is None else account.password
        result = authenticate(
            credentials, request.method, self.nonces, password=password, bound_to=client
        )
        if result is AuthResult.STALE and account is not None:
            return AuthOutcome(challenge=True, stale=True)
        if result is not AuthResult.OK or account is None:
            return AuthOutcome(failed=True)
        return AuthOutcome(account=account)

    def _account_for(self, credentials: DigestCredentials, aor_user: str) -> SipAccount | None:
        directory = self.directory
        name = credentials.username
        account = directory.by_auth_name(name) or directory.by_number(name)
        if account is None:
            return None
        if aor_user not in (account.number, account.auth_name):
            return None  # authenticated as one extension, registering another
        return account

    def _challenge(self, transaction: ServerTransactionHandle, *, stale: bool = False) -> None:
        nonce = self.nonces.issue(transaction.source.host)
        realm = self.config.realm
        headers = [
            ("WWW-Authenticate", str(DigestChallenge(realm, nonce, algorithm=alg, stale=stale)))
            for alg in self._algorithms_for(transaction.request)
        ]
        transaction.respond(401, headers=headers)

    def _algorithms_for(self, request: SipRequest) -> tuple[str, ...]:
        algorithms = self.config.algorithms
        quirky = self.config.md5_only_agents
        if quirky and len(algorithms) > 1 and "MD5" in algorithms:
            agent = request.headers.get("User-Agent") or ""
            if any(fragment in agent for fragment in quirky):
                return ("MD5",)
        return algorithms

    def _update(self, transaction: ServerTransactionHandle, account: SipAccount) -> None:
        request = transaction.request
        source = transaction.source
        try:
            wildcard = request.is_wildcard_contact
            contacts = [] if wildcard else _contact_list(request)
            cseq, _ = request.cseq
            register = RegisterRequest(
                number=account.number,
                call_id=request.call_id,
                cseq=cseq,
                contacts=contacts,
                wildcard=wildcard,
                expires=request.expires,
                transport=source.transport,
                host=source.host,
                port=source.port,
                user_agent=request.headers.get("User-Agent") or "",
            )
        except (HeaderValueError, ValueError):
            transaction.respond(400, "Bad Contact or Expires")
            return
        result = self.core.register(register, account.max_registrations)
        headers = result.headers
        if result.status == 200:
            now = self.core.clock_now()
            headers = [
                ("Contact", f"<{b.uri}>;expires={b.remaining(now)}") for b in result.bindings
            ]
            headers.append(("Date", self._date(now)))  # §10.3 step 8: lets phones set clocks
        transaction.respond(result.status, result.reason, headers=headers)

    def _date(self, now: float) -> str:
        second = int(now)
        if second != self._date_second:
            self._date_second = second
            self._date_text = formatdate(second, usegmt=True)
        return self._date_text


def _aor_user(request: SipRequest) -> str | None:
    uri = request.to.uri
    if isinstance(uri, SipUri) and uri.user:
        return uri.user
    return None


def _contact_list(request: SipRequest) -> list[tuple[str, int | None]]:
    contacts: list[tuple[str, int | None]] = []
    for address in request.contacts:
        raw = address.params.get("expires")
        expires: int | None = None
        if raw is not None:
            raw = raw.strip('"')
            if not raw.isdigit():
                raise ValueError(f"bad expires parameter {raw!r}")
            expires = min(int(raw), 2**31 - 1)
        contacts.append((str(address.uri), expires))
    return contacts
