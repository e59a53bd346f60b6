"""A call that cannot reach its extension (busy, DND, no answer) handed to an
application instead of failing: the extension's forwarding rule to voicemail.

The ringing call ends as usual for its observers (its record says busy or no
answer), but its caller is not refused: the caller's INVITE, still unanswered, and
its media endpoint go to an ``AppCall`` under a new call id, which answers the caller
and runs the application (the voicemail box of the extension). A caller an
application answered already (an IVR's key to the extension) is taken back the
same way by the application call it came from, on its answered leg.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kilopbx.engine.app_call import AppCall, AppLeg
from kilopbx.engine.applications import application_for
from kilopbx.engine.b2bua import Action, RejectCaller
from kilopbx.engine.call_incoming import IncomingLeg

if TYPE_CHECKING:
    from kilopbx.engine.call_runtime import CallRuntime
    from kilopbx.engine.calls import CallEngine

log = logging.getLogger(__name__)


async def hand_to_application(
    engine: CallEngine, runtime: CallRuntime, kind: str, number: str, reason: str, status: int
) -> list[Action] | None:
    """The actions that end ``runtime`` without refusing its caller, once an
    application of ``kind`` for ``number`` has the caller; None when it cannot."""
    leg = runtime.leg_a
    anchor = runtime.a
    if isinstance(leg, AppLeg):
        return await _take_back(engine, runtime, leg, kind, number, reason, status)
    if not isinstance(leg, IncomingLeg) or leg.final_sent or leg.cancelled or anchor is None:
        return None
    application = await application_for(engine.applications(), number, kind)
    if application is None or runtime.machine.ended or leg.final_sent or leg.cancelled:
        return None
    actions = runtime.machine.give_up(status, reason, engine.now())
    if not actions:
        return None
    log.info("call %s: %s for %s, to its %s", runtime.call.id, reason, number, kind)
    call = AppCall(
        engine,
        leg.invite.transaction,
        runtime.caller_account,
        number,
        runtime.offer,
        caller_channel=runtime.caller_id,
    )
    call.adopt(leg.invite, anchor)
    call.trunk, call.did = runtime.call.caller.trunk, runtime.did  # a provider's caller
    call.unreached = reason  # the voicemail box greets a busy line's callers its own way
    call.timer = runtime.session_timer  # not answered yet: the application's 200 has it
    runtime.a = None  # the endpoint is the application's now: the runtime keeps its hands off
    engine.spawn(call.run(application))
    return [action for action in actions if not isinstance(action, RejectCaller)]


async def _take_back(
    engine: CallEngine,
    runtime: CallRuntime,
    leg: AppLeg,
    kind: str,
    number: str,
    reason: str,
    status: int,
) -> list[Action] | None:
    if runtime.a is None or leg.final_sent or leg.cancelled:
        return None
    application = await application_for(engine.applications(), number, kind)
    if application is None or runtime.machine.ended or leg.final_sent or leg.cancelled:
        return None
    actions = runtime.machine.give_up(status, reason, engine.now())
    if not actions:
        return None
    log.info("call %s: %s for %s, back to its %s", runtime.call.id, reason, number, kind)
    call = leg.origin.take_back(number)
    call.unreached = reason
    runtime.a = None  # the endpoint is the application's again
    engine.spawn(call.run(application))
    return [action for action in actions if not isinstance(action, RejectCaller)]
