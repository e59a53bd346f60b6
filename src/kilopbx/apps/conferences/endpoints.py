"""conference/query and conference/update (spec 50-conference.md) and the KiloPBX
extensions conference/add and conference/delete."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.conferences import wire
from kilopbx.apps.conferences.service import CONFERENCES, ROOMS, ConferenceService
from kilopbx.apps.conferences.wire import INVALID_VALUE, parse_changes, render
from kilopbx.apps.ring_groups.numbered import update_existing
from kilopbx.apps.ring_groups.values import parse_number, parse_room_name


def _service(req: Request) -> ConferenceService:
    return req.pbx.registry.get(CONFERENCES)


@endpoint("conference/query", needs_body=True)
async def conference_query(req: Request) -> dict[str, Any]:
    found = await ROOMS.selected(_service(req).query, required(req.body, "number"))
    return {"conferences": [render(s.room, s.moderators) for s in found]}


@endpoint("conference/update", needs_body=True)
async def conference_update(req: Request) -> dict[str, Any]:
    await update_existing(
        _service(req), required(req.body, "number").strip(), lambda: parse_changes(req.body)
    )
    return {}


@endpoint("conference/add", needs_body=True)
async def conference_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), INVALID_VALUE)
    name = parse_room_name(required(req.body, "name"), INVALID_VALUE)
    await _service(req).add(number, name, parse_changes(req.body))
    return {}


@endpoint("conference/delete", needs_body=True)
async def conference_delete(req: Request) -> dict[str, Any]:
    await _service(req).delete(ROOMS.chosen(required(req.body, "number")))
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        wire.ROOM_MISSING: "10011",
        wire.NO_SUCH_EXTENSION: "10006",
        wire.NUMBER_IN_USE: "10100",
        wire.INVALID_VALUE: "10101",
    }
)
