"""One channel's SIP side: the peer's requests inside its dialog (``DialogOwner``).

BYE ends the channel. An INFO carrying a key press (``application/dtmf-relay`` or
``application/dtmf``) is answered 200 and the key handed to the call. A re-INVITE or
UPDATE with SDP is answered here, by us: the media is anchored, so a phone putting the
call on hold (sendonly or inactive, RFC 3264 §8.4) changes only its own leg's endpoint
and the other phone keeps its stream (silence until hold music exists). Other INFOs and
OPTIONS are accepted; anything else a call has no use for gets 501.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from kilopbx.engine.dtmf_info import read_info_digit
from kilopbx.engine.sdp_negotiation import HOLD_ANSWER, LegMedia, SdpRejected, read_media
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transaction_user import ServerTransactionHandle

ACCEPTED = frozenset({"INFO", "OPTIONS", "NOTIFY"})


class LegCall(Protocol):
    """What a leg needs of its call (``kilopbx.engine.call_runtime.CallRuntime``)."""

    def leg_bye(self, channel: str) -> None: ...

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        """A new offer from the phone on ``channel``: update its endpoint, return our
        answer SDP (with the direction given); SdpRejected answers 488."""
        ...

    def leg_sdp(self, channel: str) -> bytes | None:
        """Our current SDP for ``channel`` (for a re-INVITE without offer)."""
        ...

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        """The phone on ``channel`` sent a re-INVITE or UPDATE: its session timer
        restarts; the headers our 200 carries for it (RFC 4028 §9)."""
        ...

    def leg_digit(self, channel: str, digit: str, duration_ms: int) -> None:
        """The phone on ``channel`` pressed a key, sent as SIP INFO."""
        ...


class CallerLeg(Protocol):
    """The caller's side of a call as the runtime drives it: an INVITE we answer, or
    (click-to-call) a phone we called first and that has already answered."""

    peer_host: str  # where the phone's signalling comes from (picks our media address)
    hops: int  # Max-Forwards for the INVITEs we send on

    @property
    def final_sent(self) -> bool: ...

    @property
    def cancelled(self) -> bool: ...

    def provisional(self, status: int, *, body: bytes = b"") -> None: ...

    def answer(self, body: bytes) -> SipDialog: ...

    def reject(self, status: int) -> None: ...

    async def confirmed(self) -> bool:
        """True once the answer is confirmed (the ACK came); False when it never was."""
        ...


class EndedCall:
    """What a leg's owner points to once its call is over and released: a late
    request in a dialog that is ending finds nothing left to change. The SIP objects
    that outlive a call (an INVITE transaction absorbing retransmissions until its
    Timer M, 32 s) then no longer keep the whole call alive with them."""

    __slots__ = ()

    def leg_bye(self, channel: str) -> None:
        pass

    async def leg_offer(self, channel: str, media: LegMedia) -> bytes:
        raise SdpRejected("the call has ended")

    def leg_sdp(self, channel: str) -> bytes | None:
        return None

    def leg_refreshed(self, channel: str) -> list[tuple[str, str]]:
        return []

    def leg_digit(self, channel: str, digit: str, duration_ms: int) -> None:
        pass


ENDED_CALL = EndedCall()


def detach_owners(call: LegCall, owners: Iterable[object]) -> None:
    """Point every leg owner among ``owners`` that still serves ``call`` at
    ``ENDED_CALL`` (the call has ended and let go of its media)."""
    for owner in owners:
        if isinstance(owner, LegOwner) and owner.call is call:
            owner.call = ENDED_CALL


@dataclass(slots=True)
class LegOwner:
    call: LegCall
    channel: str
    on_ack: Callable[[SipRequest], None] | None = None

    def on_dialog_request(
        self, dialog: SipDialog, transaction: ServerTransactionHandle
    ) -> Awaitable[None] | None:
        method = transaction.request.method
        if method == "BYE":
            transaction.respond(200)
            self.call.leg_bye(self.channel)
            return None
        if method in ("INVITE", "UPDATE"):
            return self._offer(dialog, transaction)
        if method == "INFO":
            request = transaction.request
            transaction.respond(200)
            key = read_info_digit(request.content_type, request.body)
            if key is not None:
                self.call.leg_digit(self.channel, key.digit, key.duration_ms)
            return None
        # a call that can transfer has leg_refer(channel, dialog, transaction) (RFC 3515)
        refer = getattr(self.call, "leg_refer", None) if method == "REFER" else None
        if refer is not None:
            refer(self.channel, dialog, transaction)
            return None
        if method in ACCEPTED:
            transaction.respond(200)
            return None
        transaction.respond(501)
        return None

    def on_dialog_ack(self, dialog: SipDialog, ack: SipRequest) -> None:
        if self.on_ack is not None:
            self.on_ack(ack)

    async def _offer(self, dialog: SipDialog, transaction: ServerTransactionHandle) -> None:
        request = transaction.request
        contact = [("Contact", dialog.dialog.local_contact or "")]
        contact += self.call.leg_refreshed(self.channel)
        sdp = [("Content-Type", "application/sdp")]
        if not request.body:
            # a session refresh: an UPDATE without offer gets no SDP back; an offer-less
            # re-INVITE gets our current SDP as the offer
            ours = self.call.leg_sdp(self.channel) if request.method == "INVITE" else None
            headers = contact + sdp if ours else contact
            transaction.respond(200, headers=headers, body=ours or b"")
            return
        try:
            media = read_media(request.body)
        except SdpRejected:
            transaction.respond(488)
            return
        try:
            answer = await self.call.leg_offer(self.channel, media)
        except SdpRejected:
            transaction.respond(488)
            return
        transaction.respond(200, headers=contact + sdp, body=answer)


def answer_direction(media: LegMedia) -> str:
    """Our direction toward a phone whose SDP says ``media.direction``."""
    if media.host == "0.0.0.0":
        return "inactive"
    return HOLD_ANSWER.get(media.direction, "sendrecv")
