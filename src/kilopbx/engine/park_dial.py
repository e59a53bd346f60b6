"""``call/dial`` to a parking slot: the API retrieves a parked call (spec 70
``call/dial``: a call-parking slot number as callee "retrieves the parked call").

The caller's phones ring as for any click-to-call (``Dialler.ring_phones``), on an
endpoint created next to the parked call's. The first to answer joins the parked
call as its answering member, in place of the party released when it was parked,
exactly as a phone dialling ``*71<slot>`` does (``call_park.retrieve``), and the
call keeps its ``callid``: ``call/dial`` answers that id. While the phone rings the
call stays parked (its timeout may still ring the parker back); a phone that
answers after the call left the slot gets a BYE. Ringing that ends unanswered
leaves nothing behind: no call was made.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kilopbx.engine.b2bua import BranchAnswered, Bye, new_branch
from kilopbx.engine.call_dial import DTMF, FIRST_LEG_CODECS, Dialler, PhoneAnswer, bye_quietly
from kilopbx.engine.call_park import retrieve_slot, unparked
from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import Contact
from kilopbx.media.pool import MediaError

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)


def parked_call(engine: CallEngine, dialled: str) -> tuple[str, CallRuntime] | None:
    """(slot, call) when ``dialled`` (a slot's number, or ``*71<slot>``) names a slot
    a call is parked on now."""
    lot = engine.parking
    slot = retrieve_slot(dialled, lot) if lot is not None else None
    if lot is None or slot is None:
        return None
    parked = lot.parked_on(slot)
    return None if parked is None else (slot, parked.runtime)


class ParkedDial(Dialler):
    """Rings ``caller``'s phones to hand them the call parked on ``slot``."""

    def __init__(
        self,
        engine: CallEngine,
        caller: SipAccount,
        slot: str,
        contacts: Sequence[Contact],
        parked: CallRuntime,
        *,
        auto_answer: bool = False,
    ) -> None:
        super().__init__(engine, caller, slot, contacts, auto_answer=auto_answer)
        self.slot = slot
        self.parked = parked

    def start(self) -> None:
        """Not listed as a call of its own: the parked call is the call."""
        self.engine.spawn(self._retrieve())

    async def _retrieve(self) -> None:
        engine, parked = self.engine, self.parked
        codecs = [(c.payload_type, c.name) for c in (*FIRST_LEG_CODECS, DTMF)]
        near = parked.a.endpoint if parked.a is not None else None
        try:
            endpoint = await engine.media.create_endpoint(codecs, near=near)
        except (MediaError, OSError, RuntimeError, TimeoutError) as exc:
            log.info("call %s: no media to retrieve it: %s", parked.call.id, exc)
            return
        answer = None
        try:
            answer = await self.ring_phones(endpoint)
        except Exception:
            log.exception("call %s: ringing %s to retrieve it failed", parked.call.id, self.slot)
        lot = engine.parking
        taken = lot.take(self.slot, parked) if answer is not None and lot is not None else None
        if answer is None or taken is None or parked.machine.ended:
            if answer is not None:  # the call left the slot while the phone rang
                await bye_quietly(answer.dialog)
            with contextlib.suppress(MediaError):
                await engine.media.delete_endpoint(endpoint)
            return
        await unparked(parked)
        await self._join(answer)

    async def _join(self, answer: PhoneAnswer) -> None:
        """The phone that answered becomes the parked call's answering member."""
        engine, runtime = self.engine, self.parked
        call = runtime.call
        channel = new_branch(call, self.caller.number, len(call.branches), self.channel_id)
        call.branches[channel.id] = channel
        self.owner.call = runtime  # its BYE, re-INVITEs and keys reach the call now
        runtime.dialogs[channel.id] = answer.dialog
        runtime.remote[channel.id] = answer.media
        runtime.addresses[channel.id] = answer.anchor.address
        old, runtime.b = runtime.b, answer.anchor  # the released party's endpoint goes
        if old is not None:
            engine.forget_endpoint(old.endpoint.id)
            with contextlib.suppress(MediaError):
                await engine.media.delete_endpoint(old.endpoint)
        runtime.connected = None
        engine.track(runtime)
        await runtime.media_apps.record_party(answer.anchor.endpoint)  # a recording goes on
        runtime.feed(BranchAnswered(channel.id))
        if self.pending.hung_up or answer.dialog.ended:  # it hung up as it answered
            runtime.feed(Bye(channel.id))
