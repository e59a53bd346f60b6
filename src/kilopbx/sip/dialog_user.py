"""What the call engine holds for each dialog: ``SipDialog``, a sans-IO ``Dialog`` bound
to the stack, that sends in-dialog requests and hands the peer's ones to its owner,
one at a time and in the order they arrived.

Life of a dialog:

- it is made by ``ClientInvite`` (our INVITE: one per answering or ringing fork) or
  by ``SipDialog.accept`` (an INVITE we answer) and registered with the stack, so
  the peer's requests and the ACKs for our 2xx reach its ``owner``;
- ``await dialog.request("BYE")`` (or INFO, UPDATE, REFER, NOTIFY, a re-INVITE)
  sends a request in it and returns the final response; the ACK for a re-INVITE's
  2xx is sent for you;
- it ends (and leaves the registry) when a BYE is sent or received, when a request
  in it is answered 408 or 481 (§12.2.1.2), or when its owner calls ``end()``.

The owner sees each request of the peer through ``on_dialog_request`` after the
previous one's call returned: a re-INVITE and the BYE that follows it are never
handled out of order. The owner answers through the transaction handle it gets
(``respond``); a BYE it leaves unanswered is answered 200, any other request 500
after 64*T1.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from kilopbx.sip.dialog import Dialog, DialogError, DialogId, DialogState
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.transaction_user import ServerTransactionHandle
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.sip.stack import SipStack

logger = logging.getLogger(__name__)

HeaderPairs = Iterable[tuple[str, str]]
# §12.2.1.2: these answers to an in-dialog request mean the dialog is gone.
DIALOG_ENDING_STATUSES = frozenset({408, 481})
# §14.2: an INVITE while ours is pending gets 491; while theirs is, 500 with Retry-After.
GLARE = 491
RETRY_AFTER_SECONDS = "1"
# Requests of one dialog waiting for its owner; a peer sending faster than the owner
# answers is told to retry instead of queueing without bound.
MAX_QUEUED = 32


class DialogOwner(Protocol):
    """Who handles a dialog's incoming traffic (the call engine's channel)."""

    def on_dialog_request(
        self, dialog: SipDialog, transaction: ServerTransactionHandle
    ) -> Awaitable[None] | None:
        """A request of the peer in ``dialog`` (BYE, re-INVITE, UPDATE, INFO, REFER,
        NOTIFY, PRACK, OPTIONS...); answer it with ``transaction.respond``. The next
        request of this dialog waits until this call (or its awaitable) returns."""
        ...

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        """The ACK for our 2xx to the peer's (re-)INVITE arrived (it may carry SDP)."""
        ...


class SipDialog:
    """One dialog of ours, live in the stack. Create through ``ClientInvite`` or
    ``SipDialog.accept``; see the module docstring for its life."""

    __slots__ = (
        "_acks",
        "_draining",
        "_inbox",
        "_invite_in",
        "_invite_out",
        "_stack",
        "dialog",
        "on_ack",
        "owner",
    )

    def __init__(self, stack: SipStack, dialog: Dialog, owner: DialogOwner) -> None:
        self._stack = stack
        self.dialog = dialog
        self.owner = owner
        self._inbox: deque[ServerTransactionHandle] = deque()
        self._draining = False
        self._invite_out = False
        self._invite_in: ServerTransactionHandle | None = None
        # ACKs we sent for 2xx to our re-INVITEs, by CSeq, to repeat on retransmissions.
        self._acks: dict[int, tuple[SipRequest, Destination]] = {}
        # Told of each ACK before the owner (ServerInvite waits on it for its 2xx).
        self.on_ack: Callable[[SipRequest], None] | None = None

    @classmethod
    def accept(
        cls,
        stack: SipStack,
        invite: ServerTransactionHandle,
        owner: DialogOwner,
        *,
        local_contact: str,
        early: bool = False,
    ) -> SipDialog:
        """The dialog our answer (with ``invite.to_tag``) to a new INVITE creates,
        registered at once so that a PRACK, UPDATE or CANCEL-racing BYE finds it.
        Call it before sending the 1xx or 2xx; ``early`` for a 1xx. Raises
        DialogError when the INVITE cannot make a dialog (no From tag or Contact)."""
        dialog = Dialog.from_uas_request(
            invite.request,
            invite.to_tag,
            local_contact=local_contact,
            early=early,
            source=invite.source,
        )
        sip_dialog = cls(stack, dialog, owner)
        sip_dialog._invite_in = invite  # a re-INVITE before our answer gets 500 (§14.2)
        sip_dialog.register()
        return sip_dialog

    @property
    def id(self) -> DialogId:
        return self.dialog.id

    @property
    def state(self) -> DialogState:
        return self.dialog.state

    @property
    def ended(self) -> bool:
        return self.dialog.state is DialogState.TERMINATED

    def register(self) -> None:
        """Route the peer's requests in this dialog to ``owner`` from now on."""
        self._stack.dialogs.add(self)

    def end(self) -> None:
        """Forget the dialog without sending anything: later requests in it get 481."""
        self.dialog.terminate()
        self._stack.dialogs.remove(self)

    # --- our requests ---

    async def request(
        self,
        method: str,
        *,
        headers: HeaderPairs = (),
        body: bytes = b"",
        ack_body: bytes = b"",
    ) -> SipResponse:
        """Send ``method`` in this dialog and return its final response (a synthesized
        408 or 503 when none came). For a re-INVITE the ACK of a 2xx is sent for you,
        with ``ack_body`` (the SDP answer of a re-INVITE sent without offer).

        Raises DialogError when the dialog has ended, an INVITE is already in
        progress in it (§14.1) or its next hop is no SIP URI; ValueError for ACK and
        CANCEL (not requests of their own here: see ``ClientInvite.cancel``). A 408
        or 481 answer ends the dialog (§12.2.1.2), and so does any answer to BYE."""
        method = method.upper()
        if method in ("ACK", "CANCEL"):
            raise ValueError(f"{method} is not sent through SipDialog.request")
        if self.ended:
            raise DialogError("the dialog has ended")
        is_invite = method == "INVITE"
        if is_invite and (self._invite_out or self._receiving_invite()):
            raise DialogError("an INVITE is already in progress in this dialog")
        request = self.dialog.create_request(method, headers=headers, body=body)
        destination = self.destination()
        on_retransmitted_2xx = partial(self._repeat_ack, request.cseq[0]) if is_invite else None
        self._invite_out = self._invite_out or is_invite
        try:
            handle = self._stack.start_client_transaction(
                request, destination, on_additional_2xx=on_retransmitted_2xx
            )
            response = await handle.final_response()
        finally:
            if is_invite:
                self._invite_out = False
        status = response.status
        if is_invite and 200 <= status < 300:
            self._send_ack(request.cseq[0], ack_body, destination)
        self.dialog.receive_response(request, response)
        if method == "BYE" or status in DIALOG_ENDING_STATUSES:
            self.end()
        return response

    def _receiving_invite(self) -> bool:
        """An INVITE of the peer in this dialog still waits for our final answer."""
        invite = self._invite_in
        return invite is not None and not invite.final_sent

    def destination(self) -> Destination:
        """Where this dialog's next request goes (see ``Dialog.destination``)."""
        flow = self.dialog.flow
        return self.dialog.destination(flow is None or self._stack.flow_open(flow))

    def _send_ack(self, cseq: int, body: bytes, destination: Destination) -> None:
        headers = [("Content-Type", "application/sdp")] if body else []
        ack = self.dialog.create_ack(cseq, body=body, headers=headers)
        self._acks = {cseq: (ack, destination)}  # only the latest re-INVITE can repeat
        self._stack.send_ack(ack, destination)

    def _repeat_ack(self, cseq: int, response: SipResponse) -> None:
        sent = self._acks.get(cseq)
        if sent is not None:
            self._stack.send_ack(*sent)

    # --- the peer's requests (called by the stack) ---

    def receive(self, transaction: ServerTransactionHandle) -> None:
        """Queue a request of the peer that the registry routed to this dialog."""
        if len(self._inbox) >= MAX_QUEUED:
            transaction.respond(500, headers=[("Retry-After", RETRY_AFTER_SECONDS)])
            return
        self._inbox.append(transaction)
        if not self._draining:
            self._draining = True
            self._stack.spawn(self._drain())

    def receive_ack(self, ack: SipRequest) -> None:
        try:
            if self.on_ack is not None:
                self.on_ack(ack)
            self.owner.on_dialog_ack(self, ack)
        except Exception:
            logger.exception("dialog owner failed on ACK")

    async def _drain(self) -> None:
        try:
            while self._inbox:
                await self._deliver(self._inbox.popleft())
        finally:
            self._draining = False

    async def _deliver(self, transaction: ServerTransactionHandle) -> None:
        method = transaction.request.method
        if self.ended:
            transaction.respond(481)
            return
        if method == "INVITE":
            if self._invite_out:
                transaction.respond(GLARE)
                return
            if self._receiving_invite():
                transaction.respond(500, headers=[("Retry-After", RETRY_AFTER_SECONDS)])
                return
            self._invite_in = transaction
        elif method == "BYE":
            self.end()  # requests after it are answered 481, in order
        handler: Callable[[ServerTransactionHandle], Awaitable[None] | None] = partial(
            self.owner.on_dialog_request, self
        )
        await self._stack.requests.serve(transaction, handler)
        if method == "BYE" and not transaction.final_sent:
            transaction.respond(200)
