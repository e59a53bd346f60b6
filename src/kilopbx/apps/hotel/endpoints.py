"""wakeupcall/create, query, update and delete (spec 61-hotel.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.hotel import wire
from kilopbx.apps.hotel.service import WAKEUP_CALLS, WakeupService
from kilopbx.apps.hotel.wire import (
    ALARM_MISSING,
    NO_SUCH_EXTENSION,
    alarm_object,
    parse_alarm,
    render,
)
from kilopbx.apps.ring_groups.values import parse_selector, split_list, text_field
from kilopbx.core.errors import MISSING_PARAMETER, DomainError


def _service(req: Request) -> WakeupService:
    return req.pbx.registry.get(WAKEUP_CALLS)


def _extensions(req: Request) -> list[str] | None:
    selected = parse_selector(required(req.body, "number"), NO_SUCH_EXTENSION)
    if selected == []:
        raise DomainError(NO_SUCH_EXTENSION, detail="no such extension")
    return selected


def _alarm_ids(text: str) -> list[int] | None:
    if text.strip() == "all":
        return None
    ids = split_list(text)
    if not ids:
        raise DomainError(MISSING_PARAMETER)
    if not all(item.isascii() and item.isdigit() and len(item) <= 12 for item in ids):
        raise DomainError(ALARM_MISSING, detail=f"wakeupid {text[:40]!r} is not an alarm id")
    return [int(item) for item in ids]


@endpoint("wakeupcall/create", needs_body=True)
async def wakeupcall_create(req: Request) -> dict[str, Any]:
    extensions = _extensions(req)
    if extensions is None:  # never wake every room by accident (spec 61, Proposed)
        raise DomainError(NO_SUCH_EXTENSION, detail='"all" is not allowed here')
    settings = parse_alarm(alarm_object(req.body))
    await _service(req).create(extensions, settings)
    return {}


@endpoint("wakeupcall/query", needs_body=True)
async def wakeupcall_query(req: Request) -> dict[str, Any]:
    found = await _service(req).query(_extensions(req))
    if not found:
        return {}
    return {
        "wakeups": [
            {"number": ext, "wakeup": [render(alarm) for alarm in alarms]}
            for ext, alarms in found.items()
        ]
    }


@endpoint("wakeupcall/update", needs_body=True)
async def wakeupcall_update(req: Request) -> dict[str, Any]:
    extension = required(req.body, "number").strip()
    alarm_ids = _alarm_ids(required(req.body, "wakeupid"))
    if alarm_ids is None or len(alarm_ids) != 1:
        raise DomainError(ALARM_MISSING, detail="update one alarm at a time")
    settings = parse_alarm(alarm_object(req.body))
    await _service(req).update(extension, alarm_ids[0], settings)
    return {}


@endpoint("wakeupcall/delete", needs_body=True)
async def wakeupcall_delete(req: Request) -> dict[str, Any]:
    extensions = _extensions(req)
    id_text = text_field(req.body, "wakeupid")
    alarm_ids = None if id_text is None or not id_text.strip() else _alarm_ids(id_text)
    await _service(req).delete(extensions, alarm_ids)
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        wire.NO_SUCH_EXTENSION: "10006",
        wire.ALARM_INVALID: "10020",
        wire.ALARM_MISSING: "10021",
        wire.ALARM_EXISTS: "10022",
        wire.PROMPT_MISSING: "10023",
    }
)
