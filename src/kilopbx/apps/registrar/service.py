"""REGISTER handling: authentication, the defences, and turning a request into a
binding update on ``RegistrarCore``.

Per REGISTER: one directory lookup in memory, one nonce check, one digest (the
authenticator of ``kilopbx.engine.sip_auth``, shared with calls), one table update; no
database read (writes are batched by ``BindingStore``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from email.utils import formatdate
from typing import Final

from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.apps.registrar.core import RegisterRequest, RegistrarCore
from kilopbx.apps.registrar.durable_ack import DurableAck
from kilopbx.apps.registrar.security import BanList, is_scanner
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.sip_auth import DigestAuthenticator
from kilopbx.sip.digest import NonceManager
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.memo import Memo
from kilopbx.sip.message import SipRequest
from kilopbx.sip.stack import StatelessAnswer
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Source
from kilopbx.sip.uri import SipUri

log = logging.getLogger(__name__)
# A phone sends the same User-Agent every time: its verdict is remembered (bounded).
_scanner_agent: Final = Memo(is_scanner)


class RegisterHandler:
    def __init__(
        self,
        core: RegistrarCore,
        directory: AccountDirectory,
        config: RegistrarConfig,
        nonces: NonceManager,
        bans: BanList,
        on_authenticated: Callable[[Source], None] | None = None,
        durable: DurableAck | None = None,
    ) -> None:
        """``on_authenticated(source)``: a request from there passed digest auth;
        ``durable``: holds a 200 until its bindings are committed (None: answer at once)."""
        self.core = core
        self.directory = directory
        self.config = config
        self.nonces = nonces
        self.bans = bans
        self.on_authenticated = on_authenticated
        self.durable = durable
        # the same checks (and strikes) authenticate INVITEs: see kilopbx.engine.sip_auth
        self.auth = DigestAuthenticator(
            directory,
            nonces,
            realm=config.realm,
            algorithms=config.algorithms,
            md5_only_agents=config.md5_only_agents,
            on_failure=bans.failed,
        )
        self.scanners = 0
        self._date_second = -1
        self._date_text = ""

    # -- stack hooks -----------------------------------------------------------------------

    def inspect(self, request: SipRequest, source: Source) -> bool:
        """Scanner User-Agents are dropped without an answer. Over a stream they count
        toward a ban; a UDP source can be forged, and a strike for it would let anyone
        get any address (a trunk, a phone) banned."""
        headers = request.headers
        agent = headers.get("User-Agent")
        if (agent and _scanner_agent.get(agent)) or is_scanner(headers.get("From")):
            self.scanners += 1
            if source.reliable:
                self.bans.failed(source.host)
            return False
        return True

    def answer_statelessly(self, request: SipRequest, source: Source) -> StatelessAnswer | None:
        """A REGISTER without credentials is challenged without a transaction: nothing
        is kept for it (the nonce is stateless too), so anonymous REGISTERs cannot
        fill the stack's transaction table. A retransmission gets a fresh challenge."""
        if "Authorization" in request.headers:
            return None
        try:
            if _aor_user(request) is None:
                return None
        except HeaderValueError:
            return None  # the handler answers 400
        return 401, None, self.auth.challenge_headers(request, source.host)

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
        outcome = self.auth.check(request, aor_user, transaction.source.host)
        if outcome.challenge:
            self.auth.challenge(transaction, stale=outcome.stale)
            return
        if outcome.failed or outcome.account is None:
            self.auth.strike(transaction.source.host)
            transaction.respond(403, "Forbidden")
            return
        if self.on_authenticated is not None:
            self.on_authenticated(transaction.source)
        self._update(transaction, outcome.account)

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
            if self.durable is not None and (contacts or wildcard):  # not for a query
                respond = functools.partial(transaction.respond, 200, headers=headers)
                self.durable.acknowledge(
                    account.number, result.bindings, respond, transaction.respond
                )
                return
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
