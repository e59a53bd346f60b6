"""The callee side of an outbound call: the INVITE to a provider, trunk after trunk.

A call to a number that is not ours has one callee channel. Its task tries the
route's trunks in failover order, and each trunk's targets in order (31-routes.md,
outbound matching step 4): a 5xx, a 408, no response within ``trunk_timeout``
seconds, or a target that cannot be reached moves on to the next target and then the
next trunk; any other failure (486 busy, 603 declined, 404 ...) is the called party's
answer and ends the attempt. A trunk whose ``max_channels`` legs are all in use
is skipped (503, "Circuit/channel congestion", when no other takes the call). A 401
or 407 is answered with the trunk's credentials, and a 422 (our session interval
under the provider's minimum) once with the provider's ``Min-SE`` (``Retries``); the
provider's 2xx sets up the session timer of the leg (``callee_session``). Reliable
provisional responses get their PRACK (``prack_client``), and early media (183 with
SDP) is passed to the caller like a phone's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from kilopbx.engine.b2bua import Action, BranchAnswered, BranchFailed, BranchRinging, new_branch
from kilopbx.engine.call_branch import read_remote
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.call_model import Channel
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.session_timer import granted, raised_after_422
from kilopbx.engine.trunk_invite import authorised, reauthorised, trunk_invite
from kilopbx.engine.trunking import TrunkProfile, TrunkTarget
from kilopbx.sip.dialog import DialogError
from kilopbx.sip.dialog_user import SipDialog
from kilopbx.sip.invite_client import ClientInvite, InviteAnswered, InviteFailed, InviteProgress
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.prack_client import PrackClient
from kilopbx.sip.transport import Destination

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

NEXT_TRUNK_STATUSES = frozenset({408})  # and every 5xx
UNREACHABLE = 502  # no trunk answered at all (or none is up): "Line Unreachable"


def fails_over(status: int) -> bool:
    """A failure of the trunk, not of the called party: try the next one."""
    return status in NEXT_TRUNK_STATUSES or 500 <= status < 600


def channels_in_use(engine: CallEngine, trunk: str, besides: CallRuntime | None = None) -> int:
    """Live legs through ``trunk`` in calls other than ``besides`` (inbound and
    outbound alike)."""
    count = 0
    for other in engine.calls.values():
        if other is besides or other.machine.ended:
            continue
        for channel in other.call.channels():
            if channel.trunk == trunk and channel.live:
                count += 1
    return count


def ring_outside(runtime: CallRuntime, choice: OutboundChoice) -> list[Action]:
    """Start the callee channel of a call through ``choice``'s trunks."""
    engine = runtime.engine
    first = choice.trunks[0] if choice.trunks else "none"
    channel = new_branch(
        runtime.call, choice.number, 0, engine.new_channel_id(f"trunk-{first}-endpoint")
    )
    channel.trunk = first
    actions = runtime.machine.retarget([channel], engine.now())
    engine.track(runtime, ringing=True)
    runtime._spawn(ring_trunks(runtime, channel, choice))
    return actions


async def ring_trunks(runtime: CallRuntime, channel: Channel, choice: OutboundChoice) -> None:
    lines = runtime.engine.trunk_lines()
    status = UNREACHABLE
    for name in choice.trunks if lines is not None else ():
        assert lines is not None
        profile = lines.profile(name)
        if profile is None:
            continue
        if (
            profile.max_channels
            and channels_in_use(runtime.engine, name, runtime) >= profile.max_channels
        ):
            log.info("call %s: trunk %s has no free channel", runtime.call.id, name)
            status = 503 if status == UNREACHABLE else status
            continue
        for target in await lines.targets(name):
            if channel.id in runtime.cancelled_branches or runtime.machine.ended:
                return
            channel.trunk = name
            attempt = TrunkAttempt(runtime, channel, choice, profile, target)
            result = await attempt.run()
            lines.report(name, target, attempt.reachable)
            if result == 0:
                return
            if not fails_over(result):  # the called party's answer
                runtime.feed(BranchFailed(channel.id, result))
                return
            if result != UNREACHABLE:  # a provider's own failure says more
                status = result
    log.info("call %s: no trunk of route %s took the call", runtime.call.id, choice.route)
    runtime.outside_status = status  # 503 from every provider: congestion
    runtime.feed(BranchFailed(channel.id, status))


@dataclass
class TrunkAttempt:
    """One INVITE (and its authenticated repeat) to one target of one trunk."""

    runtime: CallRuntime
    channel: Channel
    choice: OutboundChoice
    profile: TrunkProfile
    target: TrunkTarget
    reachable: bool = True

    async def run(self) -> int:
        """0 once the call was answered (or the answer was handled); else the status
        of the failure (``UNREACHABLE`` for no response at all)."""
        runtime, channel = self.runtime, self.channel
        engine = runtime.engine
        destination = Destination(self.target.transport, self.target.host, self.target.port)
        assert runtime.b is not None
        anchor = replace(runtime.b, address=engine.media_address(self.target.host))
        runtime.addresses[channel.id] = anchor.address
        request = trunk_invite(runtime, self.choice, self.profile, self.target, anchor.sdp())
        owner = LegOwner(runtime, channel.id)
        retries = Retries()
        for _round in range(MAX_ROUNDS):
            try:
                invite = await engine.sip.invite(request, destination, owner, symmetric=False)
            except Exception as exc:  # no route to it, a TCP connection refused...
                log.info("call %s: trunk %s: %s", runtime.call.id, self.profile.name, exc)
                self.reachable = False
                return UNREACHABLE
            runtime.invites[channel.id] = invite
            if channel.id in runtime.cancelled_branches:
                invite.cancel()
            outcome = await self._follow(invite)
            if isinstance(outcome, int):
                return outcome
            again = retries.next_request(request, outcome.response, self.profile)
            if again is None or runtime.machine.ended or channel.id in runtime.cancelled_branches:
                return outcome.response.status
            request = again
        return UNREACHABLE

    async def _follow(self, invite: ClientInvite) -> int | InviteFailed:
        runtime, channel = self.runtime, self.channel
        timeout: float | None = runtime.engine.trunk_timeout
        pracks: dict[str, PrackClient] = {}
        while True:
            try:
                event = await asyncio.wait_for(anext(invite), timeout)
            except TimeoutError:  # nothing at all came back: the trunk is down
                self.reachable = False
                invite.cancel()
                return UNREACHABLE
            except StopAsyncIteration:
                return UNREACHABLE
            timeout = None  # it answers: from now on the ring timer rules
            match event:
                case InviteProgress(response, dialog):
                    if response.status == 100:
                        continue
                    if dialog is not None:
                        tag = dialog.dialog.remote_tag
                        rack = pracks.setdefault(tag, PrackClient()).rack_for(
                            response, invite.request.cseq[0]
                        )
                        if rack is not None:
                            runtime._spawn(_prack(dialog, rack))
                    early = read_remote(runtime, channel.id, response.body)
                    runtime.feed(BranchRinging(channel.id, response.status, early))
                case InviteAnswered(response, dialog):
                    runtime.dialogs[channel.id] = dialog
                    if (session := granted(response)) is not None:
                        runtime.callee_sessions[channel.id] = session
                    if runtime.machine.ended:
                        runtime.bye(dialog)
                    elif read_remote(runtime, channel.id, response.body) or (
                        channel.id in runtime.remote
                    ):
                        runtime.feed(BranchAnswered(channel.id))
                    else:
                        runtime.bye(dialog)
                        runtime.feed(BranchFailed(channel.id, 488))
                    return 0
                case InviteFailed(response, cancelled, timed_out):
                    if cancelled or timed_out:
                        runtime.feed(BranchFailed(channel.id, response.status))
                        return 0
                    if response.status in (401, 407):
                        return event
                    self.reachable = response.status != 503  # overloaded: try it last
                    return event


MAX_ROUNDS = 4  # INVITEs to one target: challenged, raised after a 422, challenged again


@dataclass
class Retries:
    """What may follow a failed INVITE to a provider: its 401/407 answered with the
    trunk's credentials (not twice in a row: that is a wrong password), and a 422
    taken once (RFC 4028 §7.4), with credentials again for a provider that
    challenged before."""

    challenge: SipResponse | None = None
    uses: int = 0  # requests that carried credentials for ``challenge``
    just_authorised: bool = False
    raised: bool = False

    def next_request(
        self, request: SipRequest, response: SipResponse, profile: TrunkProfile
    ) -> SipRequest | None:
        if response.status in (401, 407):
            if self.just_authorised:
                return None
            again = authorised(request, response, profile)
            if again is not None:
                self.challenge, self.uses, self.just_authorised = response, 1, True
            return again
        self.just_authorised = False
        if response.status != 422 or self.raised:
            return None
        again = raised_after_422(request, response)
        if again is None:
            return None
        self.raised = True
        if self.challenge is not None:
            self.uses += 1
            again = reauthorised(again, self.challenge, profile, self.uses)
        return again


async def _prack(dialog: SipDialog, rack: str) -> None:
    """RFC 3262 §7.2: PRACK in the early dialog; its answer needs nothing from us."""
    with contextlib.suppress(DialogError):
        await dialog.request("PRACK", headers=[("RAck", rack)])
