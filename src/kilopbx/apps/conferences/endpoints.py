"""conference/query and conference/update (spec 50-conference.md) and the KiloPBX
extensions conference/add and conference/delete."""

from __future__ import annotations

from typing import Any

from kilopbx.api.errors import ApiError
from kilopbx.api.params import required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.conferences.service import ConferenceService
from kilopbx.apps.conferences.wire import INVALID_VALUE, ROOM_MISSING, parse_changes, render
from kilopbx.apps.ring_groups.values import parse_number, parse_room_name, parse_selector


def _service(req: Request) -> ConferenceService:
    return req.pbx.features["kilopbx.apps.conferences.feature"].service


@endpoint("conference/query", needs_body=True)
async def conference_query(req: Request) -> dict[str, Any]:
    numbers = parse_selector(required(req.body, "number"), ROOM_MISSING)
    found = await _service(req).query(numbers)
    if numbers is not None and not found:
        raise ApiError(ROOM_MISSING, detail="no such conference room")
    return {"conferences": [render(s.room, s.moderators) for s in found]}


@endpoint("conference/update", needs_body=True)
async def conference_update(req: Request) -> dict[str, Any]:
    number = required(req.body, "number").strip()
    service = _service(req)
    await service.ensure_exists(number)
    await service.update(number, parse_changes(req.body))
    return {}


@endpoint("conference/add", needs_body=True)
async def conference_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), INVALID_VALUE)
    name = parse_room_name(required(req.body, "name"), INVALID_VALUE)
    await _service(req).add(number, name, parse_changes(req.body))
    return {}


@endpoint("conference/delete", needs_body=True)
async def conference_delete(req: Request) -> dict[str, Any]:
    numbers = parse_selector(required(req.body, "number"), ROOM_MISSING)
    if numbers == []:
        raise ApiError(ROOM_MISSING, detail="no such conference room")
    await _service(req).delete(numbers)
    return {}
