"""The usual caller's side of a call: a phone's INVITE, answered through
``ServerInvite``, with the session timer it asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kilopbx.engine.b2bua import CallerCancelled
from kilopbx.engine.call_leg import CallerLeg, LegOwner
from kilopbx.engine.call_runtime import CallRuntime
from kilopbx.engine.delayed_offer import our_offer, stand_in_offer, take_answer
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.sdp_negotiation import LegMedia
from kilopbx.engine.session_timer import SessionTimer
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_server import ServerInvite
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine


def incoming(
    engine: CallEngine,
    transaction: ServerTransactionHandle,
    caller: SipAccount,
    dialled: str,
    offer: LegMedia | None,
    timer: SessionTimer | None = None,
    *,
    caller_channel: str | None = None,
    call_id: str | None = None,
) -> CallRuntime:
    """A call a phone made: its INVITE is the caller's leg (with the session timer it
    asked for, if any); ``offer`` None: the INVITE had no SDP (delayed offer)."""

    def leg(runtime: CallRuntime) -> CallerLeg:
        invite = engine.sip.server_invite(
            transaction,
            LegOwner(runtime, runtime.caller_id),
            on_cancel=lambda: runtime.feed(CallerCancelled()),
        )
        delayed = runtime if offer is None else None
        return IncomingLeg(invite, engine.hops_left(transaction.request), timer, delayed)

    runtime = CallRuntime(
        engine, leg, caller, dialled, offer or stand_in_offer(),
        caller_channel=caller_channel, call_id=call_id,
    )  # fmt: skip
    runtime.session_timer = timer
    return runtime


class IncomingLeg:
    """The caller's INVITE (``ServerInvite``) as the runtime drives it."""

    def __init__(
        self,
        invite: ServerInvite,
        hops: int,
        timer: SessionTimer | None,
        delayed: CallRuntime | None = None,
    ) -> None:
        """``delayed``: the call of an INVITE without SDP, whose offer we make."""
        self.invite = invite
        self.delayed = delayed
        self.hops = hops
        self.timer = timer
        self.peer_host = invite.transaction.source.host

    @property
    def final_sent(self) -> bool:
        return self.invite.transaction.final_sent

    @property
    def cancelled(self) -> bool:
        return self.invite.cancelled

    def provisional(self, status: int, *, body: bytes = b"") -> None:
        if self.delayed is not None:
            body = b""  # an offer may not travel in an unreliable provisional
        self.invite.provisional(status, body=body)

    def answer(self, body: bytes) -> SipDialog:
        headers = self.timer.answer_headers() if self.timer is not None else []
        if self.delayed is not None:
            body = our_offer(self.delayed)
        return self.invite.answer(body, headers=headers)

    def reject(self, status: int) -> None:
        self.invite.reject(status)

    async def confirmed(self) -> bool:
        ack = await self.invite.acknowledged()
        if ack is not None and self.delayed is not None:
            await take_answer(self.delayed, ack)
        return ack is not None
