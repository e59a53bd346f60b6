"""Calls on the wire: the member objects of call/query, extension/query_call and the
call events (spec 70 §1.5), made from the engine's ``CallRecord``."""

from __future__ import annotations

from typing import Any

from kilopbx.engine.call_observer import CallRecord, Member

# (role, channel state) -> memberstatus; the caller hears ringback (ALERT) and then
# has been ANSWERED, the callee RINGs and then ANSWERs
_CALLER = {"ringing": "ALERT", "early": "ALERT", "up": "ANSWERED", "held": "HOLD"}
_CALLEE = {"ringing": "RING", "early": "RING", "up": "ANSWER", "held": "HOLD"}


def member_status(member: Member) -> str:
    table = _CALLER if member.role == "caller" else _CALLEE
    return table.get(member.state, "BYE")


def member_wire(member: Member) -> dict[str, Any]:
    return {
        "ext": {
            "number": member.number,
            "channelid": member.channel_id,
            "memberstatus": member_status(member),
        }
    }


def call_wire(call: CallRecord) -> dict[str, Any]:
    return {"callid": call.call_id, "members": [member_wire(m) for m in call.members]}
