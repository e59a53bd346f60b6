"""SipStack: the PBX's one door to SIP. It owns the UDP and TCP transports, runs the
sans-IO transaction machines on the event loop's timers, and hands requests that
open new server transactions to an application handler.

Hot path per request: pre-parse source filter, one parse, one table lookup, one
machine event; timers are plain ``loop.call_at`` handles (see transaction_driver).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from kilopbx.sip.errors import HeaderValueError, SipParseError
from kilopbx.sip.message import SipRequest, SipResponse, make_response, new_tag
from kilopbx.sip.parser import parse_message
from kilopbx.sip.random_pool import random_hex
from kilopbx.sip.request_checks import check_new_request
from kilopbx.sip.request_dispatch import RequestDispatch
from kilopbx.sip.source_limits import UdpSourceLimiter
from kilopbx.sip.timers import DEFAULT_TIMERS, TimerConfig
from kilopbx.sip.transaction_client import InviteClientTransaction, create_client_transaction
from kilopbx.sip.transaction_driver import ClientEntry, Entry, ServerEntry, TransactionDriver
from kilopbx.sip.transaction_keys import server_key
from kilopbx.sip.transaction_server import InviteServerTransaction, create_server_transaction
from kilopbx.sip.transaction_table import TransactionTable
from kilopbx.sip.transaction_user import (
    Cancellable,
    ClientTransactionHandle,
    ServerTransactionHandle,
)
from kilopbx.sip.transport import (
    Destination,
    LocalAddresses,
    RateLimitedLog,
    Source,
    TransportLimits,
    response_destination,
    stamp_top_via,
)
from kilopbx.sip.transport_tcp import TcpTransport
from kilopbx.sip.transport_udp import UdpTransport
from kilopbx.sip.via import MAGIC_COOKIE, Via

logger = logging.getLogger(__name__)

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
BIND_ATTEMPTS = 20
RETRY_AFTER = (("Retry-After", "5"),)
# status, reason (None: the standard one), extra headers
StatelessAnswer = tuple[int, str | None, list[tuple[str, str]]]


class SipHandler(Protocol):
    """The application behind the stack. Only ``on_request`` is required; the
    optional hooks below are picked up when the handler defines them:

    - ``allow_source(host: str) -> bool`` — before parsing; False drops the traffic.
    - ``allowed_methods() -> str`` — the Allow header of our OPTIONS answers.
    - ``inspect_request(request, source) -> bool`` — after parsing; False drops it
      silently (scanner User-Agents, say).
    - ``answer_statelessly(request, source) -> StatelessAnswer | None`` — before a
      server transaction is made for a new non-INVITE request outside any dialog; an
      answer is sent at once and nothing is kept (RFC 3261 §8.2.7), so anonymous
      traffic (OPTIONS probes, REGISTERs without credentials) cannot fill the
      transaction table.
    - ``on_ack(request, source)`` — an ACK for a 2xx that no registered dialog took.
    - ``on_stray_response(response, source)`` — a response no transaction wants.
    """

    def on_request(self, transaction: ServerTransactionHandle) -> Awaitable[None] | None:
        """A coroutine function fits; a plain one that answers at once costs no task."""


class SipStack:
    """UDP+TCP SIP endpoint running RFC 3261 transactions for one handler.

    Typical use (a registrar)::

        class Registrar:
            async def on_request(self, txn: ServerTransactionHandle) -> None:
                if txn.request.method != "REGISTER":
                    txn.respond(405, headers=[("Allow", "REGISTER")])
                elif not authorised(txn.request):
                    txn.respond(401, headers=[("WWW-Authenticate", challenge())])
                else:
                    store(txn.request.contacts, txn.source)  # source: where to reach it
                    txn.respond(200, headers=[("Contact", "...;expires=3600")])

        stack = SipStack(Registrar())
        await stack.start("0.0.0.0", 5060)
        reply = await stack.send_request(options_request, registered_source)
    """

    def __init__(
        self,
        handler: SipHandler,
        *,
        clock: Callable[[], float] | None = None,
        timers: TimerConfig = DEFAULT_TIMERS,
        limits: TransportLimits | None = None,
        user_agent: str = "KiloPBX",
        advertised_host: str | None = None,
        max_server_transactions: int = 100_000,
        max_server_transactions_per_source: int = 10_000,
        udp_receive_buffer: int | None = None,
        supported: frozenset[str] = frozenset(),
    ) -> None:
        """``udp_receive_buffer``: SO_RCVBUF in bytes, set at start (None: the kernel's
        ~200 KiB, which a few milliseconds of loop delay under a burst overflow).
        ``max_server_transactions_per_source``: live server transactions one source
        host may hold, so that one host cannot fill the shared table. Not lower: an
        SBC or proxy in front of a thousand phones is one host, and registering them
        all takes about 2,000 transactions that each live 32 s over UDP.
        ``supported``: option tags we implement (Supported); a request that requires
        any other is answered 420 (§8.2.2.3)."""
        self.timers = timers
        self.limits = limits or TransportLimits()
        self.user_agent = user_agent
        self.max_server_transactions = max_server_transactions
        self.max_server_transactions_per_source = max_server_transactions_per_source
        self.udp_receive_buffer = udp_receive_buffer
        self.supported = supported
        self._advertised_host = advertised_host
        self._local_addresses = LocalAddresses()
        self._allow_source: Callable[[str], bool] | None = getattr(handler, "allow_source", None)
        self._inspect_request: Callable[[SipRequest, Source], bool] | None = getattr(
            handler, "inspect_request", None
        )
        self._answer_statelessly: Callable[[SipRequest, Source], StatelessAnswer | None] | None = (
            getattr(handler, "answer_statelessly", None)
        )
        self._on_stray_response: Callable[[SipResponse, Source], Any] | None = getattr(
            handler, "on_stray_response", None
        )
        self.requests = RequestDispatch(self, handler)
        self.dialogs = self.requests.dialogs
        self._driver = TransactionDriver(
            self._send_data, on_ack=self.requests.ack_received, clock=clock
        )
        self._table = self._driver.table
        self._tasks: set[asyncio.Task[None]] = set()
        # per-source volume and parse-cost limits on UDP; None: no limits
        self.udp_limiter: UdpSourceLimiter | None = None
        self._udp: UdpTransport | None = None
        self._tcp: TcpTransport | None = None
        self._log = RateLimitedLog(logger)
        self.host = ""
        self.port = 0

    # --- lifecycle ---

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._driver.loop

    @property
    def table(self) -> TransactionTable[ClientEntry, ServerEntry]:
        return self._table

    @property
    def tcp(self) -> TcpTransport | None:
        return self._tcp

    @property
    def udp(self) -> UdpTransport | None:
        return self._udp

    async def start(self, host: str, port: int) -> None:
        """Listen on UDP and TCP, same port; port 0 picks a port free for both."""
        attempts = BIND_ATTEMPTS if port == 0 else 1
        for attempt in range(attempts):
            udp = await UdpTransport.listen(self, host, port)
            chosen = udp.local_address[1]
            try:
                tcp = await TcpTransport.listen(self, host, chosen, self.limits)
            except OSError:
                udp.close()
                if attempt + 1 >= attempts:
                    raise
                continue
            if self.udp_receive_buffer is not None:
                udp.set_receive_buffer(self.udp_receive_buffer)
            self._udp, self._tcp = udp, tcp
            self.host, self.port = host, chosen
            break
        if self._advertised_host is None and host not in WILDCARD_HOSTS:
            self._advertised_host = host

    async def stop(self) -> None:
        self._driver.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            await self._tcp.close()
        self._udp = self._tcp = None

    def now(self) -> float:
        return self._driver.now()

    def trust_connection(self, source: Source) -> None:
        """A request from ``source`` was authenticated: over TCP its connection now
        outranks unauthenticated ones when slots run short (``transport_tcp``)."""
        if source.transport == "tcp" and self._tcp is not None:
            self._tcp.trust(source.host, source.port)

    # --- client side ---

    async def send_request(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        on_provisional: Callable[[SipResponse], None] | None = None,
        timeout: float | None = None,
    ) -> SipResponse:
        """Send ``request`` in a new client transaction and return its final response;
        a synthesized 408 on timeout or 503 on transport failure.

        With ``timeout`` (a non-INVITE request only), a request left unanswered that
        long is given up: its transaction stops retransmitting and the answer is the
        synthesized 408. So is one whose caller is cancelled while it waits.
        """
        handle = self.start_client_transaction(request, destination, on_provisional=on_provisional)
        if timeout is None:
            return await handle.final_response()
        try:
            return await asyncio.wait_for(handle.final_response(), timeout)
        except TimeoutError:
            self._driver.abandon(handle)
            return await handle.final_response()
        except asyncio.CancelledError:
            self._driver.abandon(handle)
            raise

    def start_client_transaction(
        self,
        request: SipRequest,
        destination: Destination,
        *,
        on_provisional: Callable[[SipResponse], None] | None = None,
        on_additional_2xx: Callable[[SipResponse], None] | None = None,
        on_final: Callable[[SipResponse], None] | None = None,
        timer_c: float | None = None,
    ) -> ClientTransactionHandle:
        """Start a client transaction; a missing Via (with a fresh branch), Max-Forwards
        and User-Agent are added first. The callbacks are those of the handle;
        ``timer_c`` is that of an INVITE (see InviteClientTransaction)."""
        self._complete_outgoing_request(request, destination)
        machine = create_client_transaction(
            request,
            destination,
            reliable=destination.reliable,
            timers=self.timers,
            timer_c=timer_c,
        )
        handle = ClientTransactionHandle(
            self,
            machine,
            on_provisional=on_provisional,
            on_additional_2xx=on_additional_2xx,
            on_final=on_final,
        )
        self._driver.start_client(handle)
        return handle

    def _cancel_sent(self, handle: ClientTransactionHandle) -> None:
        machine = handle.machine
        if isinstance(machine, InviteClientTransaction):
            self._driver.apply(handle, machine.cancel_sent(self.now()))

    def flow_open(self, destination: Destination) -> bool:
        """Whether requests can still reach a peer at ``destination`` (an address it
        sent from): always over UDP, over TCP only while its connection is up."""
        if destination.transport != "tcp":
            return True
        return self._tcp is not None and self._tcp.connection_to(*destination[1:]) is not None

    def send_ack(self, ack: SipRequest, destination: Destination) -> None:
        """Send an ACK for a 2xx: no transaction of its own (§13.2.2.4)."""
        self._complete_outgoing_request(ack, destination)
        self._send_data(ack.to_bytes(), destination, None)

    def new_branch(self) -> str:
        return MAGIC_COOKIE + random_hex(8)

    def contact_for(self, destination: Destination, user: str) -> str:
        """A Contact header value reaching us from ``destination``'s side."""
        host = self._advertised_host or self._local_addresses.towards(destination.host)
        transport = "" if destination.transport == "udp" else f";transport={destination.transport}"
        return f"<sip:{user}@{host}:{self.port}{transport}>"

    def via_for(self, destination: Destination) -> str:
        host = self._advertised_host or self._local_addresses.towards(destination.host)
        return (
            f"SIP/2.0/{destination.transport.upper()} {host}:{self.port}"
            f";branch={self.new_branch()};rport"
        )

    def _complete_outgoing_request(self, request: SipRequest, destination: Destination) -> None:
        headers = request.headers
        if "Via" not in headers:
            headers.prepend("Via", self.via_for(destination))
        if "Max-Forwards" not in headers:
            headers.add("Max-Forwards", "70")
        if self.user_agent and "User-Agent" not in headers:
            headers.add("User-Agent", self.user_agent)

    # --- incoming traffic (IncomingSink) ---

    def allow_source(self, host: str) -> bool:
        allow = self._allow_source
        return True if allow is None else allow(host)

    def datagram_received(self, data: bytes, source: Source) -> None:
        limiter = self.udp_limiter
        if limiter is None:
            self._datagram(data, source)
            return
        if not limiter.admit(source.host):
            return
        # CPU time of this thread, not wall time: other processes preempting us are
        # not the sender's doing
        started = time.thread_time()
        try:
            self._datagram(data, source)
        finally:
            limiter.charge(source.host, time.thread_time() - started)

    def _datagram(self, data: bytes, source: Source) -> None:
        try:
            message = parse_message(data)
        except SipParseError as error:
            self._answer_parse_error(error, source)
            return
        self._dispatch(message, source)

    def stream_item_received(self, item: object, source: Source) -> None:
        if isinstance(item, SipParseError):
            self._answer_parse_error(item, source)
        elif isinstance(item, SipRequest | SipResponse):
            self._dispatch(item, source)

    def _answer_parse_error(self, error: SipParseError, source: Source) -> None:
        """Answer a broken request with the parser's verdict when it could read enough
        to be answered (top Via and CSeq); drop everything else."""
        self._log.debug("unparseable message from %s:%s: %s", source.host, source.port, error)
        request = error.request
        if error.status is None or request is None or request.method == "ACK":
            return
        try:
            top_via = stamp_top_via(request, source)
            if top_via is None:
                return
            response = make_response(request, error.status, to_tag=new_tag())
            destination = response_destination(top_via, source)
        except (HeaderValueError, ValueError):
            return
        self._send_data(response.to_bytes(), destination, None)

    def _dispatch(self, message: SipRequest | SipResponse, source: Source) -> None:
        try:
            if type(message) is SipResponse:
                self._on_response(message, source)
            else:
                assert isinstance(message, SipRequest)
                self._on_request(message, source)
        except (HeaderValueError, ValueError) as error:
            # The parser let through a header the transaction layer cannot read.
            self._log.debug("dropping message from %s:%s: %s", source.host, source.port, error)

    def _on_response(self, response: SipResponse, source: Source) -> None:
        handle = self._table.match_response(response)
        if handle is None:
            if self._on_stray_response is not None:
                self._on_stray_response(response, source)
            return
        self._driver.apply(handle, handle.machine.receive(response, self.now()))

    def _on_request(self, request: SipRequest, source: Source) -> None:
        inspect = self._inspect_request
        if inspect is not None and not inspect(request, source):
            return
        top_via = stamp_top_via(request, source)
        if top_via is None:
            return
        key = server_key(request, top_via=top_via)
        now = self.now()
        existing = self._table.find_server(key)
        if existing is not None:
            self._driver.apply(existing, existing.machine.receive(request, now))
            return
        method = request.method
        if method == "ACK":
            waiting = self._table.match_ack_for_2xx(request)
            if waiting is not None and isinstance(waiting.machine, InviteServerTransaction):
                self._driver.apply(waiting, waiting.machine.ack_received(now))
            self.requests.ack_received(request, source)
            return
        if self._answered_statelessly(request, top_via, source):
            return
        table = self._table
        if (
            table.server_count >= self.max_server_transactions
            or table.server_count_from(source.host) >= self.max_server_transactions_per_source
        ):
            # Each transaction lives up to 64*T1 after its answer; under a flood, shed
            # load statelessly instead of growing without bound.
            self._log.debug("transaction table full: 503 to %s", source.host)
            self._respond_statelessly(request, top_via, source, 503, None, list(RETRY_AFTER))
            return
        machine = create_server_transaction(
            request,
            response_destination(top_via, source),
            reliable=source.reliable,
            timers=self.timers,
            key=key,
        )
        handle = ServerTransactionHandle(self, machine, source)
        self._driver.start_server(handle)
        self.requests.new_request(handle)

    def _answered_statelessly(self, request: SipRequest, top_via: Via, source: Source) -> bool:
        """Out of dialog, everything but INVITE and CANCEL may be answered without a
        transaction when the handler says how; the stack's own checks come first."""
        stateless = self._answer_statelessly
        if stateless is None or request.method in ("INVITE", "CANCEL") or request.to.tag:
            return False
        rejection = check_new_request(request, self.supported)
        if rejection is not None:
            answer: StatelessAnswer | None = (
                rejection.status,
                rejection.reason,
                list(rejection.headers),
            )
        else:
            answer = stateless(request, source)
        if answer is None:
            return False
        self._respond_statelessly(request, top_via, source, *answer)
        return True

    def _respond_statelessly(
        self,
        request: SipRequest,
        top_via: Via,
        source: Source,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]],
    ) -> None:
        if self.user_agent:
            headers = [*headers, ("Server", self.user_agent)]
        response = make_response(request, status, reason, to_tag=new_tag(), extra_headers=headers)
        self._send_data(response.to_bytes(), response_destination(top_via, source), None)

    def call_later_coarse(
        self, delay: float, callback: Callable[[Any, Any], None], handle: ServerTransactionHandle
    ) -> Cancellable:
        """A far-off call about ``handle`` on the transactions' coarse timers (cheaper than
        a loop timer); its ``cancel()`` lets go of the handle at once."""
        return self._driver.call_later_coarse(delay, callback, handle)

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` as a task the stack cancels when it stops."""
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sending ---

    def _send_data(self, data: bytes, destination: Destination, handle: Entry | None) -> None:
        transport = destination.transport
        if transport == "udp" and self._udp is not None:
            sent = self._udp.send(data, destination.host, destination.port)
        elif transport == "tcp" and self._tcp is not None:
            host, port = destination.host, destination.port
            if isinstance(handle, ServerTransactionHandle) and not self._tcp.connection_to(
                host, port
            ):
                # §18.2.2: the request's connection is gone; open one to the Via's sent-by.
                host, port = handle.reconnect_to
            on_error = None if handle is None else (lambda: self._driver.transport_failed(handle))
            sent = self._tcp.send(data, host, port, on_error)
        else:
            sent = False
        if not sent and handle is not None:
            # Handled on the next turn, not re-entering the machine from inside apply().
            self.loop.call_soon(self._driver.transport_failed, handle)

    def _send_server_response(self, handle: ServerTransactionHandle, response: SipResponse) -> None:
        self._driver.send_server_response(handle, response)
