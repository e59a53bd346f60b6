"""Calls on the wire: the member objects of call/query, extension/query_call and the
call events (spec 70 §1.5), made from the engine's ``CallRecord``."""

from __future__ import annotations

from typing import Any

from kilopbx.engine.call_observer import CallRecord, Member
from kilopbx.engine.call_reporting import member_status


def member_wire(member: Member, call: CallRecord | None = None) -> dict[str, Any]:
    """``callpath`` only when the member was reached through an application (70 §1.5)."""
    path = {"callpath": member.call_path} if member.call_path else {}
    if member.trunk and call is not None:  # an outside party (70 §1.5 InboundInfo/OutboundInfo)
        inbound = member.role == "caller"
        return {
            "inbound" if inbound else "outbound": {
                "from": member.number if inbound else call.caller,
                "to": call.did if inbound else member.number,
                "trunkname": member.trunk,
                "channelid": member.channel_id,
                "memberstatus": member_status(member).value,
                **path,
            }
        }
    return {
        "ext": {
            "number": member.number,
            "channelid": member.channel_id,
            "memberstatus": member_status(member).value,
            **path,
        }
    }


def call_wire(call: CallRecord) -> dict[str, Any]:
    return {"callid": call.call_id, "members": [member_wire(m, call) for m in call.members]}
