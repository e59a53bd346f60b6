"""Call parking: ``call/callpark``, ``call/callpark_status`` and retrieval by the
feature code ``*71<slot>`` from any phone; and directed pickup (``**<extension>``)
of a call ringing another extension, which joins a call the same way.

Parking keeps one party of a two-party call (its channel, dialog and endpoint) on a
slot and releases the other, as a blind transfer does (machine event ``Park``): the
parked party hears hold music and shows ``HOLD``. A phone dialling ``*71<slot>``
becomes a new member of the same call: its INVITE is answered from the call's free
endpoint and bridged to the parked party, so the ``callid`` survives. Nobody
retrieving within the park timeout rings the parker back (the released party, or
the phone that parked); a parker that does not answer ends the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kilopbx.core.errors import DomainError
from kilopbx.engine.b2bua import BranchAnswered, new_branch
from kilopbx.engine.call_leg import LegOwner
from kilopbx.engine.call_moves import Park, Ring, Splice
from kilopbx.engine.call_transfer import PARK_MUSIC, become_caller, bridged_peer
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.feature_codes import offer_or_488
from kilopbx.engine.sdp_negotiation import LegMedia
from kilopbx.media.pool import MediaError
from kilopbx.sip.transaction_user import ServerTransactionHandle

if TYPE_CHECKING:
    from kilopbx.engine.call_model import Channel
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)

SLOTS = tuple(str(n) for n in range(7001, 7021))  # parking slots 7001-7020
RETRIEVE_CODE = "*71"
SLOT_TAKEN = "calls.slot_taken"  # the slot is occupied, or none is free
NO_SUCH_SLOT = "calls.no_such_slot"


@dataclass
class ParkedCall:
    slot: str
    runtime: CallRuntime
    channel: str  # the parked party
    number: str
    parker: str
    parked_at: float
    timer: asyncio.TimerHandle | None = None


class ParkingLot:
    def __init__(self, engine: CallEngine, timeout: float = 120.0) -> None:
        self.engine = engine
        self.timeout = timeout
        self._slots: dict[str, ParkedCall] = {}

    def status(self) -> list[ParkedCall]:
        self._forget_ended()
        return sorted(self._slots.values(), key=lambda parked: parked.slot)

    def park(
        self,
        runtime: CallRuntime,
        channel: Channel,
        slot: str | None,
        parker: str,
        *,
        bye_released: bool = True,
    ) -> str:
        """Park ``channel`` (a talking member) on ``slot`` (None: the first free one);
        its peer leaves (see ``Park``)."""
        bridged_peer(runtime, channel)
        self._forget_ended()
        if slot is not None and slot not in SLOTS:
            raise DomainError(NO_SUCH_SLOT, f"parking slots are {SLOTS[0]}-{SLOTS[-1]}")
        if slot is None:
            slot = next((s for s in SLOTS if s not in self._slots), None)
            if slot is None:
                raise DomainError(SLOT_TAKEN, "every parking slot is taken")
        elif slot in self._slots:
            raise DomainError(SLOT_TAKEN, f"slot {slot} is taken")
        parked = ParkedCall(slot, runtime, channel.id, channel.number, parker, self.engine.now())
        self._slots[slot] = parked
        loop = asyncio.get_running_loop()
        parked.timer = loop.call_later(self.timeout, self._timed_out, slot, runtime)
        runtime.feed(Park(channel.id, bye_released))
        return slot

    def holds(self, slot: str) -> bool:
        """A call is parked on ``slot`` now."""
        self._forget_ended()
        return slot in self._slots

    def parked_on(self, slot: str) -> ParkedCall | None:
        self._forget_ended()
        return self._slots.get(slot)

    def take(self, slot: str, runtime: CallRuntime | None = None) -> ParkedCall | None:
        """Take the call off ``slot`` (only when it is ``runtime``'s, if given)."""
        self._forget_ended()
        parked = self._slots.get(slot)
        if parked is None or (runtime is not None and parked.runtime is not runtime):
            return None
        return self._remove(slot)

    def _remove(self, slot: str) -> ParkedCall | None:
        parked = self._slots.pop(slot, None)
        if parked is not None and parked.timer is not None:
            parked.timer.cancel()
        return parked

    def _timed_out(self, slot: str, runtime: CallRuntime) -> None:
        parked = self._slots.get(slot)
        if parked is None or parked.runtime is not runtime:
            return
        self._remove(slot)
        runtime.feed(Ring(parked.parker))

    def _forget_ended(self) -> None:
        for slot, parked in list(self._slots.items()):
            if parked.runtime.machine.ended:
                self._remove(slot)


async def parked(runtime: CallRuntime, swapped: bool) -> None:
    """The runtime's half of parking (in the call's task): the parked party is the
    call's caller from now on; it hears music; its peer's endpoint waits unbridged."""
    engine = runtime.engine
    if swapped:
        become_caller(runtime)
    runtime.connected = None
    runtime.bridged = False
    if runtime.a is not None and runtime.b is not None:
        with contextlib.suppress(MediaError):
            await engine.media.unbridge(runtime.a.endpoint)
            await engine.media.modify_endpoint(runtime.b.endpoint, rtp_timeout=0.0)
    await runtime.media_apps.on_hold(PARK_MUSIC, True)
    engine.hold_changed(runtime)


async def unparked(runtime: CallRuntime) -> None:
    await runtime.media_apps.on_hold(PARK_MUSIC, False)


def retrieve_slot(dialled: str, lot: ParkingLot | None = None) -> str | None:
    """The slot a ``*71<slot>`` dial names, or None when it is no such code; with
    ``lot``, also a slot number dialled alone while a call is parked there."""
    if lot is not None and dialled in SLOTS and lot.holds(dialled):
        return dialled
    if not dialled.startswith(RETRIEVE_CODE):
        return None
    slot = dialled[len(RETRIEVE_CODE) :]
    return slot if slot in SLOTS else None


async def retrieve(
    engine: CallEngine, transaction: ServerTransactionHandle, account: SipAccount, slot: str
) -> None:
    """A phone dialled ``*71<slot>``: it joins the parked call as its answering member."""
    lot = engine.parking
    offer = offer_or_488(transaction)
    if offer is None:
        return
    taken = lot.take(slot) if lot is not None else None
    if taken is None or taken.runtime.machine.ended:
        transaction.respond(404)  # nothing parked there (any more)
        return
    runtime = taken.runtime
    await unparked(runtime)
    join_as_answer(engine, runtime, transaction, account, offer)


def join_as_answer(
    engine: CallEngine,
    runtime: CallRuntime,
    transaction: ServerTransactionHandle,
    account: SipAccount,
    offer: LegMedia,
    *,
    keeping: str | None = None,
) -> None:
    """The phone whose INVITE this is answers ``runtime``'s call as a new member: its
    offer stands for the answer of a branch, and its INVITE gets our 200 once the
    call has bridged it (``CallRuntime.answer_legs``). ``keeping``: the member it is
    bridged with at once in place of that member's peer (INVITE with Replaces)."""
    call = runtime.call
    channel = new_branch(
        call, account.number, len(call.branches), engine.new_channel_id(account.number)
    )
    call.branches[channel.id] = channel
    invite = engine.sip.server_invite(transaction, LegOwner(runtime, channel.id))
    runtime.remote[channel.id] = offer
    runtime.addresses[channel.id] = engine.media_address(transaction.source.host)
    runtime.answer_legs[channel.id] = invite.answer
    engine.track(runtime)
    if keeping is not None:
        runtime.feed(Splice(keeping, channel.id))
    else:
        runtime.feed(BranchAnswered(channel.id))


PICKUP_CODE = "**"


def ringing_call(engine: CallEngine, number: str) -> CallRuntime | None:
    """A live call ringing extension ``number`` and not yet answered."""
    for runtime in unanswered_calls(engine):
        if any(c.number == number for c in runtime.call.pending_branches()):
            return runtime
    return None


def unanswered_calls(engine: CallEngine) -> Iterator[CallRuntime]:
    """The live calls still ringing their callee, in the order they began."""
    for runtime in engine.calls.values():
        machine = runtime.machine
        if not machine.ended and not machine.answered and runtime.b is not None:
            yield runtime


async def pickup(
    engine: CallEngine, transaction: ServerTransactionHandle, account: SipAccount, target: str
) -> None:
    """A phone dialled ``**<target>``: it answers the call ringing ``target``."""
    offer = offer_or_488(transaction)
    if offer is None:
        return
    runtime = ringing_call(engine, target) if target != account.number else None
    if runtime is None:
        transaction.respond(404)  # nothing rings there
        return
    join_as_answer(engine, runtime, transaction, account, offer)
