"""A register trunk's worker: sends the REGISTERs its `Registration` asks for.

Each attempt goes to the provider's targets in RFC 3263 order (the one that answered
last time first); a target that does not answer in `request_timeout` (or answers 503)
is skipped for the next. The REGISTERs are ordinary non-INVITE client transactions of
the PBX's SIP stack; one Call-ID and From tag are kept for the binding's life, CSeq
grows. On stop it un-REGISTERs (Expires: 0) when it holds a binding.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import quote

from kilopbx.apps.trunks.line_config import TrunkConfig
from kilopbx.apps.trunks.registration import (
    FAILURE,
    REGISTERED,
    Answer,
    RegisterPlan,
    Registration,
)
from kilopbx.apps.trunks.runtime_config import TrunkRuntimeConfig
from kilopbx.engine.trunking import TrunkTarget
from kilopbx.sip.errors import HeaderValueError, UriParseError
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transport import Destination
from kilopbx.sip.uri import SipUri, parse_any_uri
from kilopbx.tasks import cancel_and_wait

log = logging.getLogger(__name__)

NO_ANSWER = frozenset({408, 503})  # what the stack synthesizes for timeout / transport error


class SipSender(Protocol):
    """What a trunk worker uses of the SIP service."""

    started: bool

    async def wait_started(self) -> None: ...

    async def send_request(
        self, request: SipRequest, destination: Destination, *, timeout: float | None = None
    ) -> SipResponse: ...

    def contact(self, peer: Destination, user: str = "pbx") -> str: ...


Resolve = Callable[[TrunkConfig], Awaitable[list[TrunkTarget]]]


def uri_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def uri_user(user: str) -> str:
    return quote(user, safe="-_.!~*()=+$,")


def destination(target: TrunkTarget) -> Destination:
    return Destination(target.transport, target.host, target.port)


def unanswered(response: SipResponse | None) -> bool:
    """No response came: a timeout here, or the stack's own 408/503 (which, made from
    our request, has no To tag; a real final response to it always has one)."""
    if response is None:
        return True
    try:
        return response.status in NO_ANSWER and response.to.tag is None
    except HeaderValueError:
        return False


async def send_with_timeout(
    sip: SipSender, request: SipRequest, to: TrunkTarget, timeout: float
) -> SipResponse:
    """The final response, or the stack's own 408 when none came in `timeout` seconds
    (the request is then given up: no retransmission of it follows the next one)."""
    return await sip.send_request(request, destination(to), timeout=timeout)


class RegisterClient:
    """A `LineWorker` for one register trunk."""

    def __init__(
        self,
        config: TrunkConfig,
        sip: SipSender,
        resolve: Resolve,
        settings: TrunkRuntimeConfig,
        clock: Callable[[], float],
        on_addresses: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self._on_addresses = on_addresses
        self._sip = sip
        self._resolve = resolve
        self._settings = settings
        self._clock = clock
        domain = uri_host(config.sip_domain)
        if config.domain and config.domain != config.host:
            self.request_uri = f"sip:{domain}"
        else:
            port = "" if config.port == 5060 else f":{config.port}"
            self.request_uri = f"sip:{domain}{port}"
        self.aor = f"sip:{uri_user(config.username)}@{domain}"
        self.machine = Registration(
            user=config.digest_user,
            password=config.password,
            uri=self.request_uri,
            expires=config.register_expiry,
            retry_min=settings.retry_min,
            retry_max=settings.retry_max,
            now=clock(),
        )
        self._call_id = f"{secrets.token_hex(12)}@kilopbx"
        self._tag = secrets.token_hex(6)
        self._cseq = 0
        self._contact_uri = ""
        self._target: TrunkTarget | None = None
        self._addresses: frozenset[tuple[str, int]] = frozenset()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0  # REGISTERs sent, for tests and logs

    @property
    def status(self) -> str:
        return self.machine.state

    @property
    def addresses(self) -> frozenset[tuple[str, int]]:
        return self._addresses

    @property
    def preferred(self) -> TrunkTarget | None:
        return self._target

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, *, farewell: bool) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        holds_binding = self.machine.registered_until > self._clock()
        if farewell and holds_binding and self._target is not None and self._sip.started:
            try:
                await asyncio.wait_for(self._unregister(self._target), self._timeout_of_farewell)
            except TimeoutError:
                log.info("trunk %s: no answer to the un-REGISTER", self.config.name)

    @property
    def _timeout_of_farewell(self) -> float:
        return self._settings.unregister_timeout

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        await self._sip.wait_started()
        while True:
            next_at = self.machine.next_at
            if next_at is None:  # never left by an attempt; never spin on it either
                self.machine.no_answer(self._clock())
                continue
            delay = next_at - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self._attempt()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("trunk %s: registration attempt failed", self.config.name)
                self.machine.no_answer(self._clock())

    async def _attempt(self) -> None:
        """One REGISTER (and, through the loop, its authenticated repeat)."""
        before = self.machine.state
        targets = list(await self._resolve(self.config))
        addresses = frozenset((t.host, t.port) for t in targets)
        if addresses != self._addresses:
            self._addresses = addresses
            self._on_addresses()
        if self._target in targets:
            assert self._target is not None
            targets.remove(self._target)
            targets.insert(0, self._target)
        plan = self.machine.request(self._clock())
        for target in targets:
            response = await send_with_timeout(
                self._sip, self._build(plan, target), target, self._settings.request_timeout
            )
            if response is None or unanswered(response) or response.status == 503:
                continue  # RFC 3263 §4.3: the next target
            self._target = target
            self.machine.answered(self._answer(response), self._clock())
            break
        else:
            self.machine.no_answer(self._clock())
        self._log_change(before)

    async def _unregister(self, target: TrunkTarget) -> None:
        machine = self.machine
        machine.restart(self._clock())
        status = 0
        for _ in range(3):  # the un-REGISTER and, if challenged, its answer (bounded)
            plan = machine.request(self._clock(), expires=0)
            response = await self._sip.send_request(self._build(plan, target), destination(target))
            status = response.status
            if status not in (401, 407):
                break
            machine.answered(self._answer(response), self._clock())
            if machine.state == FAILURE:
                break
        log.info("trunk %s unregistered (%s)", self.config.name, status)

    # -- messages -------------------------------------------------------------------------

    def _build(self, plan: RegisterPlan, target: TrunkTarget) -> SipRequest:
        self._cseq += 1
        self.sent += 1
        contact = self._sip.contact(destination(target), uri_user(self.config.username))
        headers = Headers(
            [
                ("From", f"<{self.aor}>;tag={self._tag}"),
                ("To", f"<{self.aor}>"),
                ("Call-ID", self._call_id),
                ("CSeq", f"{self._cseq} REGISTER"),
                ("Contact", contact),
                ("Expires", str(plan.expires)),
            ]
        )
        if plan.authorization is not None:
            headers.add(*plan.authorization)
        self._contact_uri = contact.strip("<>")
        return SipRequest("REGISTER", self.request_uri, headers)

    def _answer(self, response: SipResponse) -> Answer:
        headers = response.headers
        challenge_header = "Proxy-Authenticate" if response.status == 407 else "WWW-Authenticate"
        return Answer(
            status=response.status,
            challenges=tuple(headers.get_lines(challenge_header)),
            granted=self._granted(response) if 200 <= response.status < 300 else None,
            min_expires=_leading_int(headers.get("Min-Expires")),
            retry_after=_leading_int(headers.get("Retry-After")),
        )

    def _granted(self, response: SipResponse) -> int | None:
        """The expiry the registrar gave our Contact (§10.2.4), else its Expires."""
        try:
            ours = _sip_uri(self._contact_uri)
            for contact in response.contacts:
                uri = contact.uri
                if (
                    ours is not None
                    and isinstance(uri, SipUri)
                    and uri.user == ours.user
                    and uri.port == ours.port
                    and uri.host.lower() == ours.host.lower()
                ):
                    value = _leading_int(contact.params.get("expires"))
                    if value is not None:
                        return value
            return response.expires
        except (HeaderValueError, UriParseError, ValueError):
            return None

    def _log_change(self, before: str) -> None:
        state = self.machine.state
        if state == before:
            return
        if state == REGISTERED:
            log.info("trunk %s registered for %ss", self.config.name, self.machine.granted)
        elif state == FAILURE:
            log.warning(
                "trunk %s: registration failed (%s), next try in %.0fs",
                self.config.name,
                self.machine.last_status,
                (self.machine.next_at or 0.0) - self._clock(),
            )


def _sip_uri(text: str) -> SipUri | None:
    uri = parse_any_uri(text)
    return uri if isinstance(uri, SipUri) else None


def _leading_int(value: str | None) -> int | None:
    if value is None:
        return None
    digits = value.strip().split(";")[0].split("(")[0].strip()
    if not digits.isascii() or not digits.isdigit() or len(digits) > 9:
        return None
    return int(digits)
