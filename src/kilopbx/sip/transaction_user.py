"""What the transaction user (registrar, B2BUA) holds: handles that pair a sans-IO
machine with its running timers and the asyncio side of its outcome.

The SipStack creates these; user code only calls the public methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol, cast

from kilopbx.sip.message import SipRequest, SipResponse, make_response, new_tag
from kilopbx.sip.timers import TimerName
from kilopbx.sip.transaction import FailureReason, TransactionState
from kilopbx.sip.transaction_client import ClientTransaction
from kilopbx.sip.transaction_keys import ClientKey, ServerKey, build_cancel
from kilopbx.sip.transaction_remnant import ClientEntryRemnant, Remnant, ServerEntryRemnant
from kilopbx.sip.transaction_server import InviteServerTransaction, ServerTransaction
from kilopbx.sip.transport import SIP_DEFAULT_PORT, Destination, Source
from kilopbx.sip.uri import bare_host

if TYPE_CHECKING:
    from kilopbx.sip.stack import SipStack

logger = logging.getLogger(__name__)

HeaderPairs = Iterable[tuple[str, str]]


class Cancellable(Protocol):
    """A running timer as the driver keeps it (a loop TimerHandle or a bucket entry)."""

    def cancel(self) -> None: ...


ResponseCallback = Callable[[SipResponse], None]
FailureCallback = Callable[[FailureReason], None]

# Requests whose 101-299 answers create a dialog when sent outside one (§12.1,
# RFC 6665 §4.1.2, RFC 3515 §2.4.4): those answers copy the Record-Route (§12.1.1).
DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})

# Status the user sees when a client transaction ends without a final response (§8.1.3.1).
FAILURE_STATUS = {
    FailureReason.TIMEOUT: 408,
    FailureReason.TRANSPORT_ERROR: 503,
    FailureReason.NO_ACK: 408,
}


class _Timers:
    """The running timers of a handle's transaction (armed and disarmed by the driver)."""

    __slots__ = ("_timers",)

    def __init__(self) -> None:
        self._timers: dict[TimerName, Cancellable] = {}

    def _current_machine(self) -> object:
        """The transaction's machine, or its remnant once the stack compacted it."""
        raise NotImplementedError

    @property
    def timers(self) -> dict[TimerName, Cancellable]:
        """Running timers by name; once the stack compacted the transaction, a snapshot
        of its remnant's."""
        machine = self._current_machine()
        return machine.timers if isinstance(machine, Remnant) else self._timers

    def set_timer(self, name: TimerName, timer: Cancellable) -> None:
        self._timers[name] = timer

    def pop_timer(self, name: TimerName) -> Cancellable | None:
        return self._timers.pop(name, None)

    def take_timers(self) -> list[tuple[TimerName, Cancellable]]:
        """Every running timer, forgotten here."""
        taken = list(self._timers.items())
        self._timers.clear()
        return taken


class ServerTransactionHandle(_Timers):
    """A request received by the stack, and the way to answer it.

    Once the final response is out over UDP the stack keeps only a remnant of the
    transaction (``machine`` then is that remnant); the handle stays valid for as
    long as its user holds it.
    """

    __slots__ = (
        "_cancel_listeners",
        "_stack",
        "_to_tag",
        "answer_guard",
        "cancelled",
        "failure",
        "machine",
        "on_failure",
        "request",
        "source",
    )

    def __init__(self, stack: SipStack, machine: ServerTransaction, source: Source) -> None:
        super().__init__()
        self._stack = stack
        self.machine: ServerTransaction | ServerEntryRemnant = machine
        self.request: SipRequest = machine.request
        self.source = source
        self._to_tag: str | None = None
        self._cancel_listeners: list[Callable[[], None]] = []
        self.cancelled = False
        self.failure: FailureReason | None = None
        # Called when an INVITE's final response is never ACKed (the UAS should send BYE).
        self.on_failure: FailureCallback | None = None
        # The stack's 500 for a request its handler left unanswered: cancelled by the
        # final response, so that it does not keep this handle (the request, its
        # parsed headers) alive for 64*T1 after the transaction became a remnant.
        self.answer_guard: Cancellable | None = None

    @property
    def key(self) -> ServerKey:
        return self.machine.key

    def _current_machine(self) -> object:
        return self.machine

    @property
    def state(self) -> TransactionState:
        return self.machine.state

    @property
    def final_sent(self) -> bool:
        return self.machine.final_sent

    @property
    def reconnect_to(self) -> tuple[str, int]:
        """Where responses go over a new connection when the request's one closed
        (§18.2.2): the received address and the Via's port."""
        via = self.request.top_via
        if via is None:
            return self.source.host, self.source.port
        host = bare_host(via.received or via.host)
        return host, via.port or SIP_DEFAULT_PORT

    @property
    def to_tag(self) -> str:
        """The To tag this side uses in its responses (made on first use, then kept)."""
        if self._to_tag is None:
            to = self.request.headers.get("To") or ""
            # Parsing To only when a tag may be there keeps the common case cheap.
            existing = self.request.to.tag if "tag" in to.lower() else None
            self._to_tag = existing or new_tag()
        return self._to_tag

    def respond(
        self,
        status: int,
        reason: str | None = None,
        headers: HeaderPairs | None = None,
        body: bytes = b"",
        *,
        to_tag: str | None = None,
    ) -> SipResponse:
        """Build a response per §8.2.6 (To tag added for everything but 100) and send it;
        one that creates a dialog carries the request's Record-Route (§12.1.1)."""
        if to_tag is None and status > 100:
            to_tag = self.to_tag
        extra = self._record_route(status)
        if headers is not None:
            extra.extend(headers)
        if self._stack.user_agent and not any(n.lower() == "server" for n, _ in extra):
            extra.append(("Server", self._stack.user_agent))
        response = make_response(
            self.request, status, reason, to_tag=to_tag, extra_headers=extra, body=body
        )
        self.send_response(response)
        return response

    def _record_route(self, status: int) -> list[tuple[str, str]]:
        request = self.request
        if not 100 < status < 300 or request.method not in DIALOG_CREATING_METHODS:
            return []
        lines = request.headers.get_lines("Record-Route")
        if not lines or "tag=" in (request.headers.get("To") or ""):
            return []  # in-dialog: the route set is fixed already
        return [("Record-Route", line) for line in lines]

    def send_response(self, response: SipResponse) -> None:
        """Send a response built by the caller (a B2BUA relaying, say)."""
        self._stack._send_server_response(self, response)
        guard = self.answer_guard
        if guard is not None and response.status >= 200:
            self.answer_guard = None
            guard.cancel()

    def add_cancel_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when a CANCEL stops this INVITE (already answered 487)."""
        if self.cancelled:
            listener()
        else:
            self._cancel_listeners.append(listener)

    def remove_cancel_listener(self, listener: Callable[[], None]) -> None:
        """Forget ``listener`` (added by ``add_cancel_listener``), if it is still there."""
        with contextlib.suppress(ValueError):
            self._cancel_listeners.remove(listener)

    def _mark_cancelled(self) -> None:
        self.cancelled = True
        listeners, self._cancel_listeners = self._cancel_listeners, []
        for listener in listeners:
            try:
                listener()
            except Exception:
                logger.exception("cancel listener failed")

    def _fail(self, reason: FailureReason) -> None:
        self.failure = reason
        if self.on_failure is not None:
            self.on_failure(reason)

    @property
    def awaiting_ack(self) -> bool:
        machine = self.machine
        return isinstance(machine, InviteServerTransaction) and machine.awaiting_ack


class ClientTransactionHandle(_Timers):
    """A request sent by the stack; await ``final_response()`` for its outcome."""

    __slots__ = (
        "__weakref__",  # an accepted INVITE's remnant reaches its user weakly
        "_cancel_asked",
        "_cancel_pending",
        "_final",
        "_stack",
        "destination",
        "machine",
        "on_additional_2xx",
        "on_final",
        "on_provisional",
        "request",
        "timed_out",
    )

    def __init__(
        self,
        stack: SipStack,
        machine: ClientTransaction,
        *,
        on_provisional: ResponseCallback | None = None,
        on_additional_2xx: ResponseCallback | None = None,
        on_final: ResponseCallback | None = None,
    ) -> None:
        super().__init__()
        self._stack = stack
        # After the final response over UDP the stack swaps in a remnant (as for servers).
        self.machine: ClientTransaction | ClientEntryRemnant = machine
        self.request: SipRequest = machine.request
        self.destination: Destination = machine.destination
        self._final: asyncio.Future[SipResponse] = stack.loop.create_future()
        self._cancel_pending = False
        self._cancel_asked = False  # one CANCEL per INVITE, however often it is asked
        self.timed_out = False  # Timer C fired and the INVITE was cancelled for it
        self.on_provisional = on_provisional
        # RFC 6026: 2xx retransmissions and other forks' 2xx, each to be ACKed by the UAC.
        self.on_additional_2xx = on_additional_2xx
        # The first final response (or the one made up on failure), as it arrives:
        # before any retransmission of it reaches on_additional_2xx.
        self.on_final = on_final

    def _current_machine(self) -> object:
        return self.machine

    @property
    def key(self) -> ClientKey:
        return cast("ClientKey", self.machine.key)

    @property
    def state(self) -> TransactionState:
        return self.machine.state

    @property
    def done(self) -> bool:
        """The final response (received or made up) is in."""
        return self._final.done()

    async def final_response(self) -> SipResponse:
        """The first final response; a synthesized 408 or 503 when none came (§8.1.3.1)."""
        return await asyncio.shield(self._final)

    def cancel(self) -> bool:
        """Ask the server to stop this INVITE with a CANCEL (§9.1).

        Before any provisional response the CANCEL is held back until one arrives,
        as §9.1 requires; the outcome still comes through ``final_response()``
        (normally 487). False when there is nothing left to cancel.
        """
        if self.request.method != "INVITE" or self._final.done():
            return False
        if self._cancel_asked:
            return True  # a second CANCEL would look to the peer like a new stray one
        self._cancel_asked = True
        if self.machine.state is TransactionState.CALLING:
            self._cancel_pending = True
        else:
            self._send_cancel()
        return True

    def _timer_c_fired(self) -> None:
        self.timed_out = True
        self.cancel()

    def _send_cancel(self) -> None:
        self._cancel_pending = False
        self._stack.start_client_transaction(build_cancel(self.request), self.destination)
        self._stack._cancel_sent(self)

    def _deliver(self, response: SipResponse) -> None:
        status = response.status
        if status < 200:
            if self._cancel_pending:
                self._send_cancel()
            if self.on_provisional is not None:
                self.on_provisional(response)
        elif not self._final.done():
            self._settle(response)
        elif status < 300 and self.on_additional_2xx is not None:
            self.on_additional_2xx(response)

    def _fail(self, reason: FailureReason) -> None:
        if not self._final.done():
            self._settle(make_response(self.request, FAILURE_STATUS[reason]))

    def _settle(self, response: SipResponse) -> None:
        self._final.set_result(response)
        if self.on_final is not None:
            self.on_final(response)
