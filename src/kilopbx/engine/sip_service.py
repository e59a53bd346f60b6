"""The PBX's SIP service: owns the SipStack and routes new requests by method to the
features that registered for them (the registrar for REGISTER, later the call engine
for INVITE and friends).

Features add filters and inspectors while they start, and contribute their method
handlers to ``SIP_METHODS``; the SIP port feature (``kilopbx.engine.sip_port``) needs
that point, so it registers them and opens the port after every contributor started
and no request arrives before its handler is in place. Requests nobody handles get
405 (a method we know) or 501 (one we do not); OPTIONS is answered 200 with our
capabilities.

For calls (the B2BUA), the whole API is here, not in ``stack``:

- contributing ``SipMethod("INVITE", handler)`` to ``SIP_METHODS`` makes the engine
  the owner of new INVITEs; it answers each through ``server_invite(transaction,
  owner)`` (ringing, answer, reject, CANCEL and the ACK, with the dialog they make);
- ``await invite(request, destination, owner)`` sends an INVITE (``build_invite``
  makes one) and returns a ``ClientInvite``: iterate it for provisional and final
  responses; ACKs, forks and CANCEL are handled as its docstring says;
- each dialog (``SipDialog``) sends requests with ``await dialog.request("BYE")``
  and hands the peer's requests and ACKs to its ``DialogOwner``, in order;
- ``advertise(methods=..., option_tags=...)`` adds what the engine implements to
  Allow and Supported (a request requiring an option tag not listed gets 420).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kilopbx.config import Settings
from kilopbx.core.registry import Key, Point
from kilopbx.sip.dialog_user import DialogOwner
from kilopbx.sip.invite_client import TIMER_C, AckBody, ClientInvite
from kilopbx.sip.invite_server import ServerInvite
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.source_limits import UdpSourceLimiter
from kilopbx.sip.stack import SipStack, StatelessAnswer
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Destination, Source, TransportLimits
from kilopbx.sip.udp_mute import KernelMute
from kilopbx.sip.udp_pressure import UdpPressure

log = logging.getLogger(__name__)

MethodHandler = Callable[[ServerTransactionHandle], Awaitable[None] | None]
SourceFilter = Callable[[str], bool]
RequestInspector = Callable[[SipRequest, Source], bool]
StatelessHandler = Callable[[SipRequest, Source], StatelessAnswer | None]

KNOWN_METHODS = frozenset(
    {
        "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    }
)  # fmt: skip
ALWAYS_ALLOWED = ("ACK", "CANCEL", "OPTIONS")
# Room for bursts (a garbage flood, a mass re-registration after a power cut): with the
# kernel default a few milliseconds of loop delay drop phones' packets. See
# docs/decisions-registrar.md ("Performance").
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


@dataclass(frozen=True)
class SipMethod:
    """A feature's handler for new requests of one method (REGISTER, INVITE, ...), and
    optionally what it answers without a transaction (see ``register_method``)."""

    method: str
    handler: MethodHandler
    stateless: StatelessHandler | None = None


class SipService:
    """The ``SipHandler`` behind the stack; features find it as ``registry.get(SIP)``."""

    def __init__(
        self,
        *,
        user_agent: str = "KiloPBX",
        clock: Callable[[], float] | None = None,
        max_transactions: int = 100_000,
        max_transactions_per_source: int = 10_000,
        limits: TransportLimits | None = None,
    ) -> None:
        self._handlers: dict[str, MethodHandler] = {}
        self._stateless: dict[str, StatelessHandler] = {}
        self._advertised: set[str] = set()
        self._source_filters: list[SourceFilter] = []
        self._known_peers: list[SourceFilter] = []
        self._inspectors: list[RequestInspector] = []
        self._before_stop: list[Callable[[], Awaitable[None]]] = []
        self._started = asyncio.Event()
        self.stack = SipStack(
            self,
            clock=clock,
            limits=limits,
            user_agent=user_agent,
            udp_receive_buffer=UDP_RECEIVE_BUFFER,
            max_server_transactions=max_transactions,
            # 0 = no limit of its own: one source may use the whole table (a load generator)
            max_server_transactions_per_source=max_transactions_per_source or max_transactions,
        )
        self.started = False
        self.kernel_mute: KernelMute | None = None  # set at start when UDP is limited
        self.udp_pressure: UdpPressure | None = None  # likewise

    # -- registration by features ----------------------------------------------------------

    def register_method(
        self, method: str, handler: MethodHandler, stateless: StatelessHandler | None = None
    ) -> None:
        """``stateless(request, source)``, when given, runs before a transaction is made
        for a request of ``method``; what it returns is sent at once and nothing is kept
        (a 401 to a REGISTER without credentials, say). None: ``handler`` takes it."""
        method = method.upper()
        if method in self._handlers:
            raise ValueError(f"{method} already has a handler")
        self._handlers[method] = handler
        if stateless is not None:
            self._stateless[method] = stateless

    def unregister_method(self, method: str) -> None:
        self._handlers.pop(method.upper(), None)
        self._stateless.pop(method.upper(), None)

    def advertise(
        self, *, methods: tuple[str, ...] = (), option_tags: tuple[str, ...] = ()
    ) -> None:
        """Add methods handled inside dialogs (BYE, UPDATE, ...) to Allow, and option
        tags (RFC 3261 §19.2: "100rel", "timer", ...) to Supported. Only for what the
        caller really implements: peers rely on both."""
        self._advertised.update(method.upper() for method in methods)
        self.stack.supported = self.stack.supported | frozenset(option_tags)

    def add_source_filter(self, allow: SourceFilter) -> None:
        """``allow(host)`` runs before a message is parsed; False drops it unread."""
        self._source_filters.append(allow)

    def add_known_peers(self, is_known: SourceFilter) -> None:
        """``is_known(host)``: an address with a live registration or a configured
        trunk; volume alone never mutes it (its excess is still dropped unparsed)."""
        self._known_peers.append(is_known)

    def is_known_peer(self, host: str) -> bool:
        return any(is_known(host) for is_known in self._known_peers)

    def before_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """``await hook()`` runs when the service stops, while it can still send (the
        call engine hangs its calls up there)."""
        self._before_stop.append(hook)

    def limit_udp_sources(
        self, clock: Callable[[], float], *, messages: int, cpu_share: float
    ) -> None:
        """Drop (never ban: the address may be forged) UDP traffic from a source beyond
        ``messages`` datagrams a second or ``cpu_share`` of the loop; 0 lifts a limit."""
        if messages <= 0 and cpu_share <= 0:
            self.stack.udp_limiter = None
            return
        self.stack.udp_limiter = UdpSourceLimiter(
            clock, messages_per_second=max(0, messages), cpu_share=max(0.0, cpu_share)
        )

    def add_request_inspector(self, inspect: RequestInspector) -> None:
        """``inspect(request, source)`` runs after parsing; False drops it silently."""
        self._inspectors.append(inspect)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        try:
            await self.stack.start(host, port)
        except OSError as exc:
            where = f"{host}:{port} (UDP and TCP)"
            raise OSError(exc.errno, f"cannot listen for SIP on {where}: {exc.strerror}") from exc
        self.started = True
        limiter, udp = self.stack.udp_limiter, self.stack.udp
        if limiter is not None and limiter.messages_per_second > 0 and udp is not None:
            loop = asyncio.get_running_loop()
            self.kernel_mute = KernelMute(
                udp.attach_filter, loop.time, loop.call_later, protected=self.is_known_peer
            )
            limiter.on_volume_drop = self.kernel_mute.mute
            limiter.protected = self.is_known_peer
            udp.pressure = self.udp_pressure = UdpPressure(
                loop.time,
                udp.receive_queue,
                protected=self.is_known_peer,
                on_mute=self.kernel_mute.mute,
            )
        self._started.set()
        log.info("SIP listening on %s:%s (UDP and TCP)", self.stack.host, self.stack.port)

    async def stop(self) -> None:
        if self.started:
            for hook in self._before_stop:
                try:
                    await hook()
                except Exception:
                    log.exception("SIP stop hook failed")
            self.started = False  # first: answers synthesized by the shutdown mean nothing
            await self.stack.stop()

    async def wait_started(self) -> None:
        """Return once the port is open (features that send start before it opens)."""
        await self._started.wait()

    @property
    def port(self) -> int:
        return self.stack.port

    @property
    def host(self) -> str:
        return self.stack.host

    def trust_connection(self, source: Source) -> None:
        """Call when a request from ``source`` was authenticated (keeps its stream)."""
        self.stack.trust_connection(source)

    def distrust_connection(self, host: str, port: int) -> None:
        """Call when what made a TCP peer trusted is gone (its registration)."""
        tcp = self.stack.tcp
        if tcp is not None:
            tcp.distrust(host, port)

    async def send_request(
        self, request: SipRequest, destination: Destination, *, timeout: float | None = None
    ) -> SipResponse:
        """The final response (see ``SipStack.send_request``; ``timeout`` gives up on
        a non-INVITE request left unanswered, with a made-up 408)."""
        return await self.stack.send_request(request, destination, timeout=timeout)

    # -- calls -----------------------------------------------------------------------------

    async def invite(
        self,
        request: SipRequest,
        destination: Destination,
        owner: DialogOwner,
        *,
        symmetric: bool = True,
        ack_body: AckBody | None = None,
        timer_c: float | None = TIMER_C,
    ) -> ClientInvite:
        """Send a new INVITE to ``destination`` (an IP address: resolve names first)
        and return it running; the dialogs it makes belong to ``owner``. See
        ``kilopbx.sip.invite_client`` for the events and the options."""
        call = ClientInvite(
            self.stack,
            request,
            destination,
            owner,
            symmetric=symmetric,
            ack_body=ack_body,
            timer_c=timer_c,
        )
        call.start()
        return call

    def server_invite(
        self,
        transaction: ServerTransactionHandle,
        owner: DialogOwner,
        *,
        on_cancel: Callable[[], None] | None = None,
        user: str = "pbx",
    ) -> ServerInvite:
        """Take a new INVITE (from the INVITE handler) to answer it: see
        ``kilopbx.sip.invite_server``. Its dialog belongs to ``owner``."""
        contact = self.contact(transaction.source, user)
        return ServerInvite(
            self.stack, transaction, owner, local_contact=contact, on_cancel=on_cancel
        )

    def contact(self, peer: Destination, user: str = "pbx") -> str:
        """Our Contact header value as ``peer`` can reach us (its transport)."""
        return self.stack.contact_for(peer, user)

    def allowed_methods(self) -> str:
        methods = [*ALWAYS_ALLOWED, *sorted(self._handlers), *sorted(self._advertised)]
        return ", ".join(dict.fromkeys(methods))

    # -- SipHandler ------------------------------------------------------------------------

    def allow_source(self, host: str) -> bool:
        return all(allow(host) for allow in self._source_filters)

    def inspect_request(self, request: SipRequest, source: Source) -> bool:
        return all(inspect(request, source) for inspect in self._inspectors)

    def answer_statelessly(self, request: SipRequest, source: Source) -> StatelessAnswer | None:
        """What needs no transaction: anonymous OPTIONS and methods nobody handles are
        answered without keeping 32 s of state per request (a flood of them filled
        the transaction table); the rest as the method's feature says."""
        method = request.method
        if method in self._handlers:
            answer = self._stateless.get(method)
            return None if answer is None else answer(request, source)
        if method == "OPTIONS":
            return 200, None, self._capabilities()
        if method in KNOWN_METHODS:
            return 405, None, [("Allow", self.allowed_methods())]
        return 501, None, [("Allow", self.allowed_methods())]

    def on_request(self, transaction: ServerTransactionHandle) -> Awaitable[None] | None:
        """The method's handler, called at once; what it returns (an awaitable, for a
        handler that waits) the stack awaits in a task."""
        method = transaction.request.method
        handler = self._handlers.get(method)
        if handler is not None:
            result: Awaitable[None] | None = handler(transaction)
            return result
        if method == "OPTIONS":
            transaction.respond(200, headers=self._capabilities())
        elif method in KNOWN_METHODS:
            transaction.respond(405, headers=[("Allow", self.allowed_methods())])
        else:
            transaction.respond(501, headers=[("Allow", self.allowed_methods())])
        return None

    def _capabilities(self) -> list[tuple[str, str]]:
        headers = [("Allow", self.allowed_methods()), ("Accept", "application/sdp")]
        if self.stack.supported:  # the option tags advertised (RFC 3261 §11.2)
            headers.append(("Supported", ", ".join(sorted(self.stack.supported))))
        return headers


def transport_limits(settings: Settings) -> TransportLimits:
    """SIP/TCP limits from the settings (the Pbx has capped them to the descriptor budget)."""
    max_connections = settings.sip_tcp_max_connections
    return TransportLimits(
        max_connections=max_connections,
        max_connections_per_host=min(settings.sip_tcp_max_connections_per_host, max_connections),
        untrusted_idle_timeout=settings.sip_tcp_untrusted_idle,
    )


SIP: Key[SipService] = Key("SIP service")
SIP_METHODS: Point[SipMethod] = Point("SIP methods")
