"""The other side of a new INVITE (the B2BUA's incoming leg): ``ServerInvite``.

The engine, as the owner of new INVITEs (a ``SipMethod("INVITE", ...)`` contribution),
wraps each one it takes::

    async def on_invite(txn: ServerTransactionHandle) -> None:
        leg = sip.server_invite(txn, owner, on_cancel=caller_gave_up)
        leg.provisional(180)                     # ringing: makes the early dialog
        leg.provisional(183, body=early_sdp)     # early media
        dialog = leg.answer(sdp_answer)          # 200 with our To tag and Contact
        ack = await leg.acknowledged()           # the ACK, or None (then BYE was sent)
        # or: leg.reject(486)

What the RFC asks of a UAS happens here or in the transaction below it: the 2xx is
retransmitted until its ACK (§13.3.1.4, Timer G doubling to T2, given up at 64*T1),
a CANCEL is answered 200 and the INVITE 487 with the same To tag, the early dialog
ends with a non-2xx answer or a CANCEL, a 2xx that is never ACKed is followed by a
BYE, as §13.3.1.4 says the UAS core should, and the last provisional response is sent
again every minute while the INVITE rings (§13.3.1.1, ``TimerConfig.provisional_refresh``)
so that proxies in front of us do not give up on it at their Timer C. A caller that
supports or requires ``100rel`` gets its provisional responses reliably (RFC 3262,
``kilopbx.sip.reliable_provisional``); one never PRACKed ends the INVITE with 504.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from kilopbx.sip.dialog import DialogError, DialogState
from kilopbx.sip.dialog_user import DialogOwner, SipDialog
from kilopbx.sip.message import SipRequest
from kilopbx.sip.reliable_provisional import GIVE_UP_STATUS, ReliableSender, wants_reliable
from kilopbx.sip.transaction import FailureReason
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.sip.stack import SipStack

logger = logging.getLogger(__name__)

HeaderPairs = Iterable[tuple[str, str]]


class ServerInvite:
    """A new INVITE we answer; see the module docstring."""

    def __init__(
        self,
        stack: SipStack,
        transaction: ServerTransactionHandle,
        owner: DialogOwner,
        *,
        local_contact: str,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        """``local_contact``: our Contact header value; ``on_cancel``: called once
        when the caller's CANCEL ended the INVITE (already answered 487)."""
        if transaction.request.method != "INVITE":
            raise ValueError("ServerInvite takes an INVITE transaction")
        self._stack = stack
        self.transaction = transaction
        self.owner = owner
        self.local_contact = local_contact
        self.dialog: SipDialog | None = None
        self._on_cancel = on_cancel
        self._ack: asyncio.Future[SipRequest | None] = stack.loop.create_future()
        self.reliable: ReliableSender | None = None
        if wants_reliable(transaction.request):
            self.reliable = ReliableSender(
                transaction,
                lambda status, body, headers: self._respond(status, body, headers),
                t1=stack.timers.t1,
                now=stack.loop.time,
                loop=stack.loop,
                on_give_up=self._not_pracked,
            )
            self.owner = self.reliable.owner(owner)
        transaction.on_failure = self._failed
        transaction.add_cancel_listener(self._cancelled)

    @property
    def request(self) -> SipRequest:
        return self.transaction.request

    @property
    def cancelled(self) -> bool:
        return self.transaction.cancelled

    def provisional(
        self, status: int = 180, *, body: bytes = b"", headers: HeaderPairs = ()
    ) -> None:
        """Send a 1xx (101-199) with our To tag and Contact: an early dialog."""
        if not 100 < status < 200:
            raise ValueError(f"{status} is not a provisional status")
        self._ensure_dialog(early=True)
        if self.reliable is not None:
            self.reliable.provisional(status, body, tuple(headers))
            return
        self._respond(status, body, headers)

    def answer(self, body: bytes = b"", *, headers: HeaderPairs = ()) -> SipDialog:
        """Send the 200 (with ``body``, the SDP answer or offer) and return the now
        confirmed dialog. Raises DialogError when the INVITE cannot make a dialog, or
        when it already has its final answer (a CANCEL may have come first)."""
        if self.transaction.final_sent:
            raise DialogError("the INVITE already has its final response")
        dialog = self._ensure_dialog(early=False)
        if self.reliable is not None:
            self.reliable.final()
        dialog.dialog.confirm()
        self._respond(200, body, headers)
        return dialog

    def reject(self, status: int, *, headers: HeaderPairs = ()) -> None:
        """Send a final non-2xx (300-699); the early dialog, if any, ends."""
        if not 300 <= status < 700:
            raise ValueError(f"{status} is not a rejection")
        if self.reliable is not None:
            self.reliable.final()
        if not self.transaction.final_sent:
            self.transaction.respond(status, headers=list(headers))
            self._let_go()
        self._end_early()

    async def acknowledged(self) -> SipRequest | None:
        """The ACK for our 2xx, or None when none came within 64*T1 (the dialog was
        then ended with a BYE)."""
        return await asyncio.shield(self._ack)

    # --- inside ---

    def _ensure_dialog(self, *, early: bool) -> SipDialog:
        if self.dialog is None:
            self.dialog = SipDialog.accept(
                self._stack,
                self.transaction,
                self.owner,
                local_contact=self.local_contact,
                early=early,
            )
            self.dialog.on_ack = self._acked
        return self.dialog

    def _respond(self, status: int, body: bytes, headers: HeaderPairs) -> None:
        extra = [("Contact", self.local_contact)]
        if body:
            extra.append(("Content-Type", "application/sdp"))
        extra.extend(headers)
        self.transaction.respond(status, headers=extra, body=body)

    def _acked(self, ack: SipRequest) -> None:
        if not self._ack.done() and ack.cseq[0] == self.request.cseq[0]:
            self._ack.set_result(ack)
            self._let_go()

    def _failed(self, reason: FailureReason) -> None:
        if reason is FailureReason.TIMEOUT:  # unanswered too long: the stack sent 408
            self._let_go()
            self._end_early()
            return
        if reason is not FailureReason.NO_ACK or self._ack.done():
            return
        self._ack.set_result(None)
        self._let_go()
        dialog = self.dialog
        if dialog is not None and not dialog.ended:
            self._stack.spawn(self._bye(dialog))

    async def _bye(self, dialog: SipDialog) -> None:
        with contextlib.suppress(DialogError):
            await dialog.request("BYE")

    def _not_pracked(self) -> None:
        """§3: a reliable provisional response never PRACKed: the INVITE fails; its
        owner hears of it as of a CANCEL (the caller is gone either way)."""
        logger.info("INVITE %s: no PRACK came, rejecting it", self.request.call_id)
        on_cancel = self._on_cancel  # the rejection lets go of it
        self.reject(GIVE_UP_STATUS)
        self._gave_up(on_cancel)

    def _cancelled(self) -> None:
        self._gave_up(self._on_cancel)

    def _gave_up(self, on_cancel: Callable[[], None] | None) -> None:
        if self.reliable is not None:
            self.reliable.final()
        self._end_early()
        self._let_go()
        if on_cancel is not None:
            try:
                on_cancel()
            except Exception:
                logger.exception("cancel callback failed")

    def _let_go(self) -> None:
        """The INVITE has its outcome (its 2xx ACKed or never ACKed, a rejection sent,
        a CANCEL taken): nothing the transaction or the dialog does from now on is ours
        to hear. Their callbacks into us go, and with them the reference cycles they
        made (transaction -> our method -> us -> transaction, and through ``on_cancel``
        the whole call), so that the INVITE and its call are freed by reference
        counting as soon as their holders let go."""
        self._on_cancel = None
        transaction = self.transaction
        if transaction.on_failure == self._failed:
            transaction.on_failure = None
        transaction.remove_cancel_listener(self._cancelled)
        dialog = self.dialog
        if dialog is not None and dialog.on_ack == self._acked:
            dialog.on_ack = None

    def _end_early(self) -> None:
        dialog = self.dialog
        if dialog is not None and dialog.state is DialogState.EARLY:
            dialog.end()
