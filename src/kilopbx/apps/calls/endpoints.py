"""call/dial, call/query and extension/query_call (specs 70 and 21), and the KiloPBX
extension call/hangup (docs/api-extensions/calls.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.calls.wire import call_wire
from kilopbx.apps.extensions.endpoints import selected
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.engine import trunk_calls
from kilopbx.engine.calls import (
    CALLER_NOT_IDLE,
    CALLS,
    NO_SUCH_CALL,
    NO_SUCH_CALLEE,
    NO_SUCH_CALLER,
    NO_SUCH_CHANNEL,
    CallEngine,
)

CALL_TYPES = ("inbound", "outbound", "internal")


def _engine(req: Request) -> CallEngine:
    engine = req.pbx.registry.find(CALLS)
    if engine is None:  # a PBX started without the call engine has no calls
        raise DomainError(NO_SUCH_CALL, "the call engine is not running")
    return engine


@endpoint("call/query")
async def call_query(req: Request) -> dict[str, Any]:
    call_id = optional(req.body, "callid")
    if call_id:
        return {"calls": [call_wire(_engine(req).query(call_id))]}
    kind = required(req.body, "type").strip().lower()
    if kind not in CALL_TYPES:
        raise DomainError(MISSING_PARAMETER, f"type must be one of {', '.join(CALL_TYPES)}")
    engine = req.pbx.registry.find(CALLS)
    live = engine.live() if engine is not None else []
    calls = [call for call in live if call.call_type.lower() == kind]
    return {"calls": [call_wire(call) for call in calls]}


@endpoint("call/dial", needs_body=True)
async def call_dial(req: Request) -> dict[str, Any]:
    caller = required(req.body, "caller").strip()
    callee = required(req.body, "callee").strip()
    auto_answer = (optional(req.body, "autoanswer") or "no").strip().lower()
    if auto_answer not in ("yes", "no"):
        raise DomainError(MISSING_PARAMETER, "autoanswer is yes or no")
    engine = _engine(req)
    return {"callid": await engine.originate(caller, callee, auto_answer=auto_answer == "yes")}


@endpoint("call/hangup", needs_body=True)
async def call_hangup(req: Request) -> dict[str, Any]:
    engine = _engine(req)
    channel = optional(req.body, "channelid")
    if channel:
        return {"callid": engine.hang_up_channel(channel)}
    call_id = required(req.body, "callid")
    engine.hang_up(call_id)
    return {"callid": call_id}


@endpoint("extension/query_call", needs_body=True)
async def extension_query_call(req: Request) -> dict[str, Any]:
    rows = await selected(req, required(req.body, "number"))
    engine = req.pbx.registry.find(CALLS)
    calllist = []
    for ext in rows:
        calls = engine.calls_of(ext.number) if engine is not None else []
        calllist.append({"number": ext.number, "numbercalls": [call_wire(c) for c in calls]})
    return {"calllist": calllist}


map_reasons(
    {
        NO_SUCH_CALL: "10005",
        NO_SUCH_CALLER: "10006",
        NO_SUCH_CHANNEL: "10007",
        CALLER_NOT_IDLE: "10008",
        NO_SUCH_CALLEE: "10011",
        trunk_calls.NOT_ALLOWED: "10024",
        trunk_calls.NO_ROUTE: "10031",
    }
)
