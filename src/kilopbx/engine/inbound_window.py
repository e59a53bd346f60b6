"""The inbound call control window (``docs/call-control.md``): a provider's call on a
trunk with ``inbound_control`` on rings (180) while the application decides.

``InboundWindows.hold`` publishes ``Invite`` (the call id and the trunk channel are
made here, and the call keeps them once routed), then waits up to ``seconds`` (10 by
default) for the first decision:

- ``accept``: the call goes on to its inbound route's destination;
- ``refuse``: the provider gets 603, the CDR says NO ANSWER, no ``Incoming``;
- ``transfer`` to a number: the call goes to that extension instead of the route's;
- nothing in time: the PBX accepts it itself.

``Incoming`` is published when the call leaves the window towards a destination. A
caller that hangs up meanwhile (CANCEL) ends the window: a NO ANSWER record, no
``Incoming``. Decisions for a channel whose window is over, or for a live channel
that never had one, fail with ``WINDOW_CLOSED``; for a channel we do not know, with
the engine's ``NO_SUCH_CHANNEL``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from kilopbx.core.errors import DomainError
from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.trunking import TrunkProfile
from kilopbx.events.call_events import InboundRouted, InboundWaiting
from kilopbx.events.call_model import CallMember, MemberKind
from kilopbx.sip.reliable_provisional import OPTION_TAG
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

WINDOW_CLOSED = "calls.inbound_window_closed"
NO_SUCH_CHANNEL = "calls.no_such_channel"  # the engine's reasons (kilopbx.engine.calls)
NO_SUCH_CALLEE = "calls.no_such_callee"
DEFAULT_SECONDS = 10.0
REMEMBERED = 4096  # decided windows kept, so a late decision answers WINDOW_CLOSED
REFUSED_STATUS = 603
Verdict = Literal["accept", "refuse", "transfer", "timeout", "gone"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    number: str = ""  # the destination of a transfer


@dataclass(frozen=True)
class Routed:
    """A call that left the window: keep these ids; ``number``: an extension the
    application named (transfer), "" for the inbound route's destination."""

    call_id: str
    channel_id: str
    number: str


def _requires_100rel(transaction: ServerTransactionHandle) -> bool:
    """RFC 3262 §3: a provider that requires 100rel gets no unreliable 180."""
    values = transaction.request.headers.get_lines("Require")
    return any(OPTION_TAG in (t.strip().lower() for t in v.split(",")) for v in values)


class InboundWindows:
    def __init__(self, engine: CallEngine, seconds: float = DEFAULT_SECONDS) -> None:
        self.engine = engine
        self.seconds = seconds
        # channel -> (call id, its decision to come)
        self._waiting: dict[str, tuple[str, asyncio.Future[Decision]]] = {}
        self._decided: OrderedDict[str, str] = OrderedDict()  # channel -> call id
        # whether any application session hears Invite (set by the Pbx); none: no window
        self.heard: Callable[[], bool] = lambda: True

    def waiting(self, channel_id: str) -> bool:
        return channel_id in self._waiting

    def decide(self, channel_id: str, decision: Decision) -> str:
        """Settle the window of ``channel_id`` (the first decision wins); its call id."""
        entry = self._waiting.get(channel_id)
        if entry is not None and not entry[1].done():
            entry[1].set_result(decision)
            return entry[0]
        if entry is not None or channel_id in self._decided or self._live(channel_id):
            raise DomainError(WINDOW_CLOSED, f"{channel_id[:60]} waits for no decision")
        raise DomainError(NO_SUCH_CHANNEL, f"no live channel {channel_id[:60]}")

    def transfer(self, channel_id: str, number: str) -> str:
        """Send the waiting call on ``channel_id`` to the extension ``number``."""
        if self.waiting(channel_id) and self.engine.directory.by_number(number) is None:
            raise DomainError(NO_SUCH_CALLEE, f"no extension {number[:32]}")
        return self.decide(channel_id, Decision("transfer", number))

    def _live(self, channel_id: str) -> bool:
        return any(
            c.id == channel_id and c.live
            for runtime in self.engine.calls.values()
            for c in runtime.call.channels()
        )

    async def hold(
        self, transaction: ServerTransactionHandle, trunk: TrunkProfile, caller: SipAccount,
        did: str,
    ) -> Routed | None:  # fmt: skip
        """Ring the provider, tell the application, wait for its decision; None when
        the call ended here (refused, or the caller gave up)."""
        engine = self.engine
        call_id = engine.new_call_id()
        channel = engine.new_channel_id(f"trunk-{trunk.name}-endpoint")
        started = engine.now()
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._waiting[channel] = (call_id, future)

        def gone() -> None:
            if not future.done():
                future.set_result(Decision("gone"))

        transaction.add_cancel_listener(gone)
        if not transaction.final_sent and not _requires_100rel(transaction):
            transaction.respond(180)  # a 180 it requires reliable comes once routed
        party = CallMember.trunk_leg(
            MemberKind.INBOUND, caller=caller.number, callee=did[:32], trunk=trunk.name,
            channel_id=channel, leg_id=call_id,
        )  # fmt: skip
        engine.bus.publish(InboundWaiting(call_id, party))
        try:
            decision = await asyncio.wait_for(asyncio.shield(future), self.seconds)
        except TimeoutError:
            decision = Decision("timeout")
        finally:
            self._waiting.pop(channel, None)
            self._remember(channel, call_id)
        if not future.done():
            future.set_result(decision)  # a decision arriving now is too late
        log.info("inbound call %s on %s: %s", call_id, trunk.name, decision.verdict)
        if decision.verdict == "gone" or transaction.cancelled:
            self._ended(call_id, channel, trunk, caller, did, started, "cancel", 487)
            return None
        if decision.verdict == "refuse":
            if not transaction.final_sent:
                transaction.respond(REFUSED_STATUS)
            self._ended(call_id, channel, trunk, caller, did, started, "refused", REFUSED_STATUS)
            return None
        engine.bus.publish(InboundRouted(call_id, party))
        return Routed(call_id, channel, decision.number)

    def _remember(self, channel: str, call_id: str) -> None:
        self._decided[channel] = call_id
        while len(self._decided) > REMEMBERED:
            self._decided.popitem(last=False)

    def _ended(
        self, call_id: str, channel: str, trunk: TrunkProfile, caller: SipAccount, did: str,
        started: float, cause: str, status: int,
    ) -> None:  # fmt: skip
        """The record of a call that ended in the window: NO ANSWER, the caller only."""
        record = CallRecord(
            call_id=call_id,
            caller=caller.number,
            caller_name=caller.display_name,
            dialled=did[:32],
            callee="",
            state="ended",
            started_at=started,
            ended_at=self.engine.now(),
            disposition="NO ANSWER",
            cause=cause,
            sip_status=status,
            members=(Member(caller.number, channel, "caller", "ended", trunk.name),),
            call_type="Inbound",
            source_trunk=trunk.name,
            did=did[:32],
        )
        self.engine.tell_ended(record)
