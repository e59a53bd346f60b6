"""Our side of a new INVITE (the B2BUA's outgoing leg): ``ClientInvite``.

``ClientInvite`` is an async iterator of what happens to the INVITE::

    call = await sip.invite(request, destination, owner)  # sip = registry.get(SIP)
    async for event in call:
        match event:
            case InviteProgress(response, dialog):  # each 1xx; dialog for a tagged one
                ...
            case InviteAnswered(response, dialog):  # the 2xx we keep; already ACKed
                ...
            case InviteFailed(response, cancelled):  # final non-2xx, 408/503 made up
                ...

The iteration ends after the final event (answered or failed). What the RFC asks of
a UAC happens without the caller: every 2xx is ACKed, a retransmitted 2xx gets the
same ACK again, and a 2xx from another fork (a second phone answering a forked
INVITE) is ACKed and then ended with a BYE (listed in ``released``). ``cancel()``
sends CANCEL (held back until a provisional response, §9.1); a 2xx that crosses it
is ACKed and ended with a BYE too, and reported as ``InviteFailed(cancelled=True)``.
Timer C (§16.6 step 11) does the same for a callee that rings too long: 3 minutes
after the last provisional response the INVITE is cancelled, and the outcome is
reported as ``InviteFailed(timed_out=True)``.
Early dialogs (one per To tag of a 1xx with Contact) are registered with their
owner, so a PRACK or UPDATE in them can be sent and received; those that do not
become the answer are ended when the final response arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kilopbx.sip.dialog import Dialog, DialogError
from kilopbx.sip.dialog_user import DialogOwner, SipDialog
from kilopbx.sip.headers import Headers
from kilopbx.sip.message import SipRequest, SipResponse, new_tag
from kilopbx.sip.transaction_user import ClientTransactionHandle
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.sip.stack import SipStack

logger = logging.getLogger(__name__)

# The body of the ACK for a 2xx: the SDP answer when the INVITE carried no offer.
AckBody = Callable[[SipResponse], bytes]
# §16.6 step 11: "greater than 3 minutes"; the engine may ring longer or shorter.
TIMER_C = 181.0
# Forks that may hold an early dialog at once: a hostile callee answering 1xx with a
# new To tag each time must not fill the dialog registry.
MAX_EARLY_DIALOGS = 16


@dataclass(frozen=True, slots=True)
class InviteProgress:
    """A provisional response; ``dialog`` is the early dialog of its To tag, if any."""

    response: SipResponse
    dialog: SipDialog | None


@dataclass(frozen=True, slots=True)
class InviteAnswered:
    """The 2xx we keep; its ACK is sent and ``dialog`` is confirmed."""

    response: SipResponse
    dialog: SipDialog


@dataclass(frozen=True, slots=True)
class InviteFailed:
    """The final answer was not a 2xx we keep (``cancelled``: after ``cancel()``;
    ``timed_out``: after Timer C cancelled it)."""

    response: SipResponse
    cancelled: bool = False
    timed_out: bool = False


InviteEvent = InviteProgress | InviteAnswered | InviteFailed


def build_invite(
    uri: str,
    *,
    from_address: str,
    to_address: str,
    contact: str,
    body: bytes = b"",
    content_type: str = "application/sdp",
    headers: Iterable[tuple[str, str]] = (),
    call_id: str | None = None,
) -> SipRequest:
    """A new out-of-dialog INVITE (§8.1.1): fresh Call-ID, From tag and CSeq. Addresses
    are name-addr text (``"Alice" <sip:2001@pbx>``); the stack adds Via, Max-Forwards
    and User-Agent when it sends it."""
    message_headers = Headers()
    message_headers.add("From", f"{from_address};tag={new_tag()}")
    message_headers.add("To", to_address)
    message_headers.add("Call-ID", call_id or secrets.token_hex(12))
    message_headers.add("CSeq", f"{secrets.randbelow(2**16) + 1} INVITE")
    message_headers.add("Contact", contact)
    for name, value in headers:
        message_headers.add(name, value)
    if body:
        message_headers.add("Content-Type", content_type)
    return SipRequest("INVITE", uri, message_headers, body)


def repeated(request: SipRequest) -> SipRequest:
    """``request`` to send again as a new transaction of the same call (a challenge
    answered, a 422's interval taken): same Call-ID and From tag, the next CSeq, no
    Via (the stack adds a new branch)."""
    headers = request.headers.copy()
    headers.remove("Via")
    headers.set("CSeq", f"{request.cseq[0] + 1} {request.method}")
    return SipRequest(request.method, request.uri, headers, request.body)


class ClientInvite:
    """One INVITE of ours and the dialogs it makes; see the module docstring."""

    def __init__(
        self,
        stack: SipStack,
        request: SipRequest,
        destination: Destination,
        owner: DialogOwner,
        *,
        symmetric: bool = True,
        ack_body: AckBody | None = None,
        timer_c: float | None = TIMER_C,
    ) -> None:
        """``symmetric``: ``destination`` is the peer itself (a registered phone's
        address), so in-dialog requests go there too rather than to its Contact.
        ``ack_body``: builds the ACK's body from the 2xx (for an INVITE without offer).
        ``timer_c``: seconds of ringing after the last 1xx before the INVITE is
        cancelled (None: never)."""
        self._stack = stack
        self.request = request
        self.destination = destination
        self.owner = owner
        self._symmetric = symmetric
        self._ack_body = ack_body
        self._timer_c = timer_c
        self._events: asyncio.Queue[InviteEvent] = asyncio.Queue()
        self._finished = False  # the final event was handed out
        self._cancel_requested = False
        self.early: dict[str, SipDialog] = {}
        self.answered: SipDialog | None = None
        self.released: list[SipDialog] = []  # other forks' answers, ended with BYE
        self._acks: dict[str, tuple[SipRequest, Destination]] = {}  # by To tag
        self._handle: ClientTransactionHandle | None = None

    def start(self) -> None:
        """Send the INVITE (``SipService.invite`` does this for you)."""
        self._handle = self._stack.start_client_transaction(
            self.request,
            self.destination,
            on_provisional=self._on_provisional,
            on_additional_2xx=self._on_additional_2xx,
            on_final=self._on_final,
            timer_c=self._timer_c,
        )

    def cancel(self) -> bool:
        """Stop the INVITE (§9.1). False when its final response is already in. With
        no final response 64*T1 after the CANCEL, the INVITE ends with a 408."""
        if self._handle is None or not self._handle.cancel():
            return False
        self._cancel_requested = True
        return True

    def close(self) -> None:
        """Its user is done with this INVITE (the call ended; ``cancel()`` first if
        it may still ring). The transaction keeps what it needs of us for as long as
        it runs (a CANCEL waiting for a provisional response, a 2xx that crosses it);
        once the stack lets go of the transaction, a late retransmitted 2xx finds
        nobody, as the remnant's weak link to its user intends. Without this the
        transaction's callbacks and our link to it made a reference cycle that only
        the cyclic collector freed, with the dialogs and messages it holds."""
        self._handle = None

    def __aiter__(self) -> ClientInvite:
        return self

    async def __anext__(self) -> InviteEvent:
        if self._finished:
            raise StopAsyncIteration
        event = await self._events.get()
        if not isinstance(event, InviteProgress):
            self._finished = True
        return event

    async def final(self) -> InviteAnswered | InviteFailed:
        """Skip the provisional responses: the final event."""
        async for event in self:
            if not isinstance(event, InviteProgress):
                return event
        raise RuntimeError("the final event was already taken")

    # --- from the transaction ---

    def _on_provisional(self, response: SipResponse) -> None:
        dialog = self._dialog_for(response) if response.status > 100 else None
        self._events.put_nowait(InviteProgress(response, dialog))

    def _on_final(self, response: SipResponse) -> None:
        if 200 <= response.status < 300:
            self._on_2xx(response)
        else:
            self._end_early_dialogs(keep=None)
            self._events.put_nowait(self._failed(response))

    def _on_2xx(self, response: SipResponse) -> None:
        dialog = self._dialog_for(response)
        if dialog is None:
            # No To tag or Contact: nothing we could ACK or end; treat it as a failure.
            self._end_early_dialogs(keep=None)
            self._events.put_nowait(self._failed(response))
            return
        dialog.dialog.confirm(response)
        self._acknowledge(response, dialog)
        self._end_early_dialogs(keep=dialog)
        self.early.pop(dialog.dialog.remote_tag, None)
        if self._cancel_requested or self._timed_out:
            self._release(dialog)
            self._events.put_nowait(self._failed(response))
            return
        self.answered = dialog
        self._events.put_nowait(InviteAnswered(response, dialog))

    def _on_additional_2xx(self, response: SipResponse) -> None:
        tag = response.to.tag or ""
        sent = self._acks.get(tag)
        if sent is not None:  # a retransmission: the same ACK again (§13.2.2.4)
            self._stack.send_ack(*sent)
            return
        dialog = self._dialog_for(response)
        if dialog is None:
            return
        dialog.dialog.confirm(response)
        self._acknowledge(response, dialog)
        self._release(dialog)

    # --- helpers ---

    @property
    def _timed_out(self) -> bool:
        return self._handle is not None and self._handle.timed_out

    def _failed(self, response: SipResponse) -> InviteFailed:
        return InviteFailed(response, self._cancel_requested, self._timed_out)

    def _dialog_for(self, response: SipResponse) -> SipDialog | None:
        tag = response.to.tag
        if not tag:
            return None
        known = self.early.get(tag)
        if known is not None:
            return known
        if self.answered is not None and self.answered.dialog.remote_tag == tag:
            return self.answered
        if len(self.early) >= MAX_EARLY_DIALOGS and response.status < 200:
            return None
        flow = self.destination if self._symmetric else None
        try:
            dialog = Dialog.from_uac_response(self.request, response, flow=flow)
        except DialogError as error:
            logger.debug("response %s makes no dialog: %s", response.status, error)
            return None
        sip_dialog = SipDialog(self._stack, dialog, self.owner)
        sip_dialog.register()
        self.early[tag] = sip_dialog
        return sip_dialog

    def _acknowledge(self, response: SipResponse, dialog: SipDialog) -> None:
        body = self._ack_body(response) if self._ack_body is not None else b""
        headers = [("Content-Type", "application/sdp")] if body else []
        ack = dialog.dialog.create_ack(self.request.cseq[0], body=body, headers=headers)
        destination = dialog.destination()
        self._acks[dialog.dialog.remote_tag] = (ack, destination)
        self._stack.send_ack(ack, destination)

    def _release(self, dialog: SipDialog) -> None:
        self.early.pop(dialog.dialog.remote_tag, None)
        self.released.append(dialog)
        self._stack.spawn(self._bye(dialog))

    async def _bye(self, dialog: SipDialog) -> None:
        with contextlib.suppress(DialogError):  # already ended
            await dialog.request("BYE")

    def _end_early_dialogs(self, keep: SipDialog | None) -> None:
        for tag, dialog in list(self.early.items()):
            if dialog is not keep:
                dialog.end()
                del self.early[tag]
