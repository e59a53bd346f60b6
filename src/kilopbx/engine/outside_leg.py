"""A leg to a number outside that is not a call's callee side: the consultation of an
attended transfer (``call_attended``) or a party added to a conference
(``call_members``), dialled by a member of a live call through the outbound route
``route_outside`` chose with that member's permissions.

Its INVITE tries the route's trunks and their targets in the failover order of an
outbound call (``trunk_branch``): no response within ``trunk_timeout``, a 408 or a
5xx moves on; a 401/407 is answered once with the trunk's credentials; any other
failure is the called party's answer. It offers no reliable provisional responses
(nothing here PRACKs them) and plays no early media: its caller hears what the call
plays it (ringback) until the answer.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from kilopbx.engine.anchor import Anchor
from kilopbx.engine.call_dial import DTMF, FIRST_LEG_CODECS, PendingLeg, PhoneAnswer, bye_quietly
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.sdp_negotiation import SdpRejected, read_media
from kilopbx.engine.trunk_branch import UNREACHABLE, channels_in_use, fails_over
from kilopbx.engine.trunk_invite import authorised, outside_invite
from kilopbx.engine.trunking import TrunkProfile
from kilopbx.media.pool import EndpointRef
from kilopbx.sip.invite_client import ClientInvite, InviteAnswered, InviteFailed
from kilopbx.sip.message import SipRequest
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

CANCELLED = 487


def outside_channel_id(engine: CallEngine, choice: OutboundChoice) -> tuple[str, str]:
    """(channel id, trunk) of a leg through ``choice``: named after its first trunk."""
    first = choice.trunks[0] if choice.trunks else "none"
    return engine.new_channel_id(f"trunk-{first}-endpoint"), first


class OutsideInvite:
    """One outside party's INVITE, trunk after trunk. ``trunk`` and ``host`` say
    where the current (at the end: the answering) attempt went."""

    def __init__(
        self,
        engine: CallEngine,
        choice: OutboundChoice,
        caller: SipAccount,
        owner: LegOwner,
        trunk: str,
    ) -> None:
        self.engine = engine
        self.choice = choice
        self.caller = caller
        self.owner = owner
        self.trunk = trunk
        self.host = ""
        self.cancelled = False
        self.invite: ClientInvite | None = None

    def cancel(self) -> bool:
        """Stop ringing (CANCEL the current INVITE, try no other trunk)."""
        self.cancelled = True
        return self.invite.cancel() if self.invite is not None else False

    async def answer(self, sdp_for: Callable[[str], bytes]) -> InviteAnswered | int:
        """The 2xx (its dialog confirmed), or the status of the final failure.
        ``sdp_for(host)``: our offer for a target at ``host``."""
        engine = self.engine
        lines = engine.trunk_lines()
        status = UNREACHABLE
        for name in self.choice.trunks if lines is not None else ():
            assert lines is not None
            profile = lines.profile(name)
            if profile is None:
                continue
            if profile.max_channels and channels_in_use(engine, name) >= profile.max_channels:
                status = 503 if status == UNREACHABLE else status
                continue
            for target in await lines.targets(name):
                if self.cancelled:
                    return CANCELLED
                self.trunk, self.host = name, target.host
                request = outside_invite(
                    engine, self.caller, 70, self.choice, profile, target,
                    sdp_for(target.host), reliable=False,
                )  # fmt: skip
                destination = Destination(target.transport, target.host, target.port)
                result = await self._attempt(request, destination, profile)
                reachable = not isinstance(result, int) or result not in (UNREACHABLE, 503)
                lines.report(name, target, reachable)
                if isinstance(result, InviteAnswered):
                    return result
                if self.cancelled or not fails_over(result):
                    return result
                if result != UNREACHABLE:
                    status = result
        return status

    async def _attempt(
        self, request: SipRequest, destination: Destination, profile: TrunkProfile
    ) -> InviteAnswered | int:
        engine = self.engine
        for round_ in range(2):
            try:
                invite = await engine.sip.invite(request, destination, self.owner, symmetric=False)
            except Exception as exc:  # no route to it, a TCP connection refused...
                log.info("outside leg via %s: %s", self.trunk, exc)
                return UNREACHABLE
            self.invite = invite
            if self.cancelled:
                invite.cancel()
            try:  # the first response within the trunk timeout, else the next trunk
                first = await asyncio.wait_for(anext(invite), engine.trunk_timeout)
            except TimeoutError:
                invite.cancel()
                return UNREACHABLE
            except StopAsyncIteration:
                return UNREACHABLE
            final = first if isinstance(first, InviteAnswered | InviteFailed) else None
            if final is None:
                final = await invite.final()
            if isinstance(final, InviteAnswered):
                return final
            if round_ == 0 and not final.cancelled:
                retry = authorised(request, final.response, profile)
                if retry is not None:
                    request = retry
                    continue
            return CANCELLED if final.cancelled else final.response.status
        return UNREACHABLE


class OutsideRinger:
    """A conference member outside, rung as ``Dialler.ring_phones`` rings a phone
    (``CallMembers`` drives both alike): the same endpoint, every codec offered."""

    def __init__(self, engine: CallEngine, choice: OutboundChoice, caller: SipAccount) -> None:
        self.engine = engine
        self.channel_id, trunk = outside_channel_id(engine, choice)
        self.pending = PendingLeg()
        self.owner = LegOwner(self.pending, self.channel_id)
        self.outside = OutsideInvite(engine, choice, caller, self.owner, trunk)

    @property
    def trunk(self) -> str:
        return self.outside.trunk

    def cancel(self) -> None:
        self.outside.cancel()

    async def ring_phones(self, endpoint: EndpointRef) -> PhoneAnswer | None:
        engine = self.engine
        session = str(secrets.randbelow(2**31))

        def anchor(host: str) -> Anchor:
            address = engine.media_address(host)
            return Anchor(endpoint, address, FIRST_LEG_CODECS, DTMF, session)

        result = await self.outside.answer(lambda host: anchor(host).sdp())
        if not isinstance(result, InviteAnswered):
            return None
        try:
            media = read_media(result.response.body)
        except SdpRejected:
            await bye_quietly(result.dialog)
            return None
        host = self.outside.host
        return PhoneAnswer(result.dialog, media, anchor(host), host)
