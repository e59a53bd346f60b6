"""Where a request goes once it has opened a new server transaction, and where an ACK
for a 2xx goes: a CANCEL to the INVITE it stops (§9.2), a request in a dialog to the
dialog's owner (``dialog_registry``), a request that fails the checks of
``request_checks`` to its rejection, a second copy of an INVITE that reached us by
another path to 482 (§8.2.2.2), and every other one to the application handler,
whose silence or failure is answered for it.

Part of the SipStack (which owns one); split out so each reads in one sitting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from kilopbx.sip import request_tasks
from kilopbx.sip.dialog_registry import DialogRegistry
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.message import SipRequest
from kilopbx.sip.request_checks import Rejection, check_new_request
from kilopbx.sip.transaction import TransactionState
from kilopbx.sip.transaction_keys import ServerKey
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import RateLimitedLog, Source

if TYPE_CHECKING:
    from kilopbx.sip.stack import SipHandler, SipStack

logger = logging.getLogger(__name__)

RequestHandler = Callable[[ServerTransactionHandle], Awaitable[None] | None]
# What the stack answers OPTIONS with when its handler does not say (``allowed_methods``).
ALLOW: Final = "ACK, CANCEL, OPTIONS"
ACCEPT: Final = "application/sdp"
# §8.2.2.2: Call-ID, From tag and CSeq number of a new INVITE (no To tag yet).
MergeKey = tuple[str, str | None, int]
MIN_MERGE_PURGE: Final = 1024
LOOP_DETECTED: Final = Rejection(482)


class RequestDispatch:
    __slots__ = (
        "_allowed_methods",
        "_handler",
        "_invites",
        "_log",
        "_on_ack",
        "_purge_at",
        "_stack",
        "dialogs",
    )

    def __init__(self, stack: SipStack, handler: SipHandler) -> None:
        self._stack = stack
        self._handler = handler
        self._on_ack: Callable[[SipRequest, Source], Any] | None = getattr(handler, "on_ack", None)
        self._allowed_methods: Callable[[], str] | None = getattr(handler, "allowed_methods", None)
        # Live dialogs: in-dialog requests and ACKs for our 2xx go to their owners.
        self.dialogs: DialogRegistry[SipDialog] = DialogRegistry()
        # New INVITEs by merge key -> the key of their server transaction.
        self._invites: dict[MergeKey, ServerKey] = {}
        self._purge_at = MIN_MERGE_PURGE
        self._log = RateLimitedLog(logger)

    def new_request(self, handle: ServerTransactionHandle) -> None:
        try:
            self._route(handle)
        except (HeaderValueError, ValueError) as error:
            # The parser vets these headers; should one still be unreadable, the request
            # must not sit unanswered in the table.
            self._log.debug("unreadable %s: %s", handle.request.method, error)
            if not handle.final_sent:
                handle.respond(400)

    def _route(self, handle: ServerTransactionHandle) -> None:
        request = handle.request
        if request.method == "CANCEL":
            self._cancel(handle)
            return
        stack = self._stack
        verdict = check_new_request(request, stack.supported) or self.dialogs.route_request(
            request, handle.source
        )
        if verdict is None and request.method == "INVITE" and self._merged(handle):
            verdict = LOOP_DETECTED
        if verdict is None:
            self.serve_now(handle, self._handler.on_request)
        elif isinstance(verdict, SipDialog):
            verdict.receive(handle)
        else:
            handle.respond(verdict.status, verdict.reason, headers=verdict.headers)

    def _merged(self, handle: ServerTransactionHandle) -> bool:
        """A new INVITE that another live transaction already received by another path
        (a forking proxy in front of us): same Call-ID, From tag and CSeq, other branch."""
        request = handle.request
        key = (request.call_id, request.from_.tag, request.cseq[0])
        table = self._stack.table
        held = self._invites.get(key)
        if held is not None and held != handle.key and table.find_server(held) is not None:
            return True
        self._invites[key] = handle.key
        if len(self._invites) >= self._purge_at:
            # Forget INVITEs whose transactions ended; the index stays within twice the
            # live transactions, however many INVITEs a flood sends.
            self._invites = {
                merge: server
                for merge, server in self._invites.items()
                if table.find_server(server) is not None
            }
            self._purge_at = max(MIN_MERGE_PURGE, 2 * len(self._invites))
        return False

    def ack_received(self, ack: SipRequest, source: Source) -> None:
        """An ACK for a 2xx: to its dialog's owner, else to the handler's ``on_ack``."""
        dialog = self.dialogs.route_ack(ack, source)
        if dialog is not None:
            dialog.receive_ack(ack)
        elif self._on_ack is not None:
            self._on_ack(ack, source)

    def _cancel(self, cancel: ServerTransactionHandle) -> None:
        invite = self._stack.table.match_cancel(cancel.request)
        if invite is None:
            cancel.respond(481)
            return
        if not isinstance(invite, ServerTransactionHandle):
            # A remnant has its final response out: nothing left to stop.
            cancel.respond(200)
            return
        # The 200 carries the tag of the INVITE's 1xx and 487: one early dialog ends.
        cancel.respond(200, to_tag=invite.to_tag)
        if invite.state is TransactionState.PROCEEDING and not invite.final_sent:
            invite.respond(487)
            invite._mark_cancelled()

    def serve_now(self, handle: ServerTransactionHandle, handler: RequestHandler) -> None:
        """``serve``, with the handler called at once: a handler that answers without
        waiting (a REGISTER) costs no task; one that returns an awaitable is awaited
        in a task of its own."""
        try:
            result = handler(handle)
        except Exception:
            self.handler_failed(handle)
            return
        if result is not None:
            self._stack.spawn(request_tasks.finish(self, handle, result))
        else:
            self.unanswered(handle)

    def serve(
        self, handle: ServerTransactionHandle, handler: RequestHandler
    ) -> Coroutine[Any, Any, None]:
        """Run ``handler`` on a new request: a failure answers 500, OPTIONS left
        unanswered gets our capabilities, and other requests but INVITE left
        unanswered get 500 after 64*T1 (an INVITE has its own limit, see TimerConfig).
        A coroutine (``request_tasks.serve``): the handler is called when it starts."""
        return request_tasks.serve(self, handle, handler)

    def handler_failed(self, handle: ServerTransactionHandle) -> None:
        self._log.exception("handler failed on %s", handle.request.method)
        if not handle.final_sent:
            handle.respond(500)

    def unanswered(self, handle: ServerTransactionHandle) -> None:
        if handle.final_sent:
            return
        method = handle.request.method
        if method == "OPTIONS":
            handle.respond(200, headers=self.capability_headers())
        elif method != "INVITE":
            # The handler may still answer later (a REGISTER waiting for its commit); if
            # it never does, the client gave up at its Timer F, and the transaction must
            # not stay in the table forever.
            stack = self._stack
            handle.answer_guard = stack.call_later_coarse(
                stack.timers.timeout, self._answer_forgotten, handle
            )

    def _answer_forgotten(self, handle: object, _: object = None) -> None:
        assert isinstance(handle, ServerTransactionHandle)
        handle.answer_guard = None
        if not handle.final_sent and not handle.machine.terminated:
            self._log.debug("no answer to %s after 64*T1: 500", handle.request.method)
            handle.respond(500)

    def capability_headers(self) -> list[tuple[str, str]]:
        """Allow, Accept and Supported: only what is implemented (the handler's methods)."""
        allow = ALLOW if self._allowed_methods is None else self._allowed_methods()
        headers = [("Allow", allow), ("Accept", ACCEPT)]
        supported = self._stack.supported
        if supported:
            headers.append(("Supported", ", ".join(sorted(supported))))
        return headers
