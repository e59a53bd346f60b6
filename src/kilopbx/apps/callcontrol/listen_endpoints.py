"""call/listen (spec 70 §4) and call/add_member (§6) over the engine's
``CallSupervision``; each answers the id of the call joined."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.callcontrol.endpoints import dial_permission
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.engine import call_listen
from kilopbx.engine.call_listen import CALL_SUPERVISION, CallSupervision
from kilopbx.engine.call_members import NOT_IDLE
from kilopbx.engine.calls import NO_SUCH_CALLEE, NO_SUCH_CHANNEL

MAX_FIELD = 2048  # longer than this is no channel id nor number of ours


def _supervision(req: Request) -> CallSupervision:
    supervision = req.pbx.registry.find(CALL_SUPERVISION)
    if supervision is None:  # a PBX started without the call engine has no calls
        raise DomainError(NO_SUCH_CHANNEL, "the call engine is not running")
    return supervision


def _field(req: Request, name: str) -> str:
    value = required(req.body, name).strip()
    if len(value) > MAX_FIELD:
        raise DomainError(call_listen.NO_SUCH_EXTENSION, f"{name} is far too long")
    return value


@endpoint("call/listen", needs_body=True)
async def call_listen_(req: Request) -> dict[str, Any]:
    monitor, extension = _field(req, "monitor"), _field(req, "extension")
    mode = required(req.body, "type").strip()
    if len(mode) > MAX_FIELD:
        raise DomainError(MISSING_PARAMETER, "no such type")
    return {"callid": await _supervision(req).listen(monitor, extension, mode)}


@endpoint("call/add_member", needs_body=True)
async def call_add_member(req: Request) -> dict[str, Any]:
    channel = required(req.body, "channelid").strip()
    if len(channel) > MAX_FIELD:
        raise DomainError(NO_SUCH_CHANNEL, "no channel has so long an id")
    number = optional(req.body, "number")
    if number is None:
        raise DomainError(MISSING_PARAMETER, "number is required")
    if len(number) > MAX_FIELD:
        raise DomainError(NO_SUCH_CALLEE, "no number is so long")
    return {"callid": await _supervision(req).add_member(channel, number, dial_permission(req))}


map_reasons(
    {
        call_listen.NO_SUCH_EXTENSION: "10006",
        call_listen.NOT_MONITORABLE: "10009",
        call_listen.MODE_NOT_PERMITTED: "10010",
        call_listen.BLANK_NUMBER: "10028",
        NOT_IDLE: "10008",
    }
)
