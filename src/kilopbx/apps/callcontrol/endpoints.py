"""call/hold, call/unhold, call/mute, call/unmute (spec 70 §4), call/transfer and the
attended transfer (§6) over the engine's ``CallControl``; each answers the call id of
the channel it was given."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.callcontrol.inbound import transfer_waiting
from kilopbx.core.errors import DomainError
from kilopbx.engine.call_attended import CONSULTING, NO_TRANSFER
from kilopbx.engine.call_control import CALL_CONTROL, CallControl
from kilopbx.engine.call_park import NO_SUCH_SLOT, SLOT_TAKEN
from kilopbx.engine.call_transfer import NOT_CONNECTED
from kilopbx.engine.calls import NO_SUCH_CALLER, NO_SUCH_CHANNEL
from kilopbx.engine.conference_hold import RENEGOTIATING

MAX_FIELD = 2048  # a channel list longer than this is no list of live channels


def _control(req: Request) -> CallControl:
    control = req.pbx.registry.find(CALL_CONTROL)
    if control is None:  # a PBX started without the call engine has no channels
        raise DomainError(NO_SUCH_CHANNEL, "the call engine is not running")
    return control


def _channel(req: Request) -> str:
    channel = required(req.body, "channelid").strip()
    if len(channel) > MAX_FIELD:
        raise DomainError(NO_SUCH_CHANNEL, "no channel has so long an id")
    return channel


def dial_permission(req: Request) -> str | None:
    """``dialpermission``: the extension whose outbound permissions apply to a number
    outside (default: the member that leaves or invites)."""
    value = (optional(req.body, "dialpermission") or "").strip()
    if len(value) > MAX_FIELD:
        raise DomainError(NO_SUCH_CALLER, "no extension has so long a number")
    return value or None


@endpoint("call/hold", needs_body=True)
async def call_hold(req: Request) -> dict[str, Any]:
    return {"callid": await _control(req).hold(_channel(req))}


@endpoint("call/unhold", needs_body=True)
async def call_unhold(req: Request) -> dict[str, Any]:
    return {"callid": await _control(req).unhold(_channel(req))}


@endpoint("call/transfer", needs_body=True)
async def call_transfer(req: Request) -> dict[str, Any]:
    number = required(req.body, "number")
    waiting = transfer_waiting(req, _channel(req), number.strip())  # inbound control window
    if waiting is not None:
        return waiting
    permission = dial_permission(req)
    return {"callid": await _control(req).transfer(_channel(req), number, permission)}


@endpoint("call/callpark", needs_body=True)
async def call_callpark(req: Request) -> dict[str, Any]:
    slot = (optional(req.body, "parkingslot") or "").strip() or None
    return {"parkingslot": await _control(req).park(_channel(req), slot)}


@endpoint("call/callpark_status")
async def call_callpark_status(req: Request) -> dict[str, Any]:
    control = req.pbx.registry.find(CALL_CONTROL)
    lot = control.engine.parking if control is not None else None
    parked = lot.status() if lot is not None else []
    timeout = str(int(lot.timeout)) if lot is not None else "0"
    return {
        "parkinfos": [
            {
                "parker": p.parker,
                "parkedparty": p.number,
                "parkingslot": p.slot,
                "parktime": timeout,
                "channelid": p.channel,
            }
            for p in parked
        ]
    }


@endpoint("call/mute", needs_body=True)
async def call_mute(req: Request) -> dict[str, Any]:
    return {"callid": await _control(req).mute(_channel(req), muted=True)}


@endpoint("call/unmute", needs_body=True)
async def call_unmute(req: Request) -> dict[str, Any]:
    return {"callid": await _control(req).mute(_channel(req), muted=False)}


map_reasons(
    {NOT_CONNECTED: "10015", RENEGOTIATING: "10015", SLOT_TAKEN: "10008", NO_SUCH_SLOT: "10011"}
)


@endpoint("call/attended_transfer", needs_body=True)
async def call_attended_transfer(req: Request) -> dict[str, Any]:
    number = required(req.body, "tonumber")
    attended = _control(req).attended
    return {"callid": await attended.start(_channel(req), number, dial_permission(req))}


@endpoint("call/attended_transfer_operate", needs_body=True)
async def call_attended_transfer_operate(req: Request) -> dict[str, Any]:
    operation = required(req.body, "operate").strip()
    return {"callid": await _control(req).attended.operate(_channel(req), operation)}


map_reasons({NO_TRANSFER: "10007", CONSULTING: "10008"})
