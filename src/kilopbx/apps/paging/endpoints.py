"""paginggrouplist/query (alias paginggroup/list), paginggroup/query, add, update and
delete (spec 51-paging.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.paging import wire
from kilopbx.apps.paging.service import PAGING, PAGING_GROUPS, PagingService
from kilopbx.apps.paging.wire import INVALID_VALUE, parse_changes, parse_type, render
from kilopbx.apps.ring_groups.numbered import update_existing
from kilopbx.apps.ring_groups.values import parse_number, parse_room_name


def _service(req: Request) -> PagingService:
    return req.pbx.registry.get(PAGING)


async def _list(req: Request) -> dict[str, Any]:
    found = await _service(req).query(None)
    return {"paginggrouplist": [{"number": s.group.number, "name": s.group.name} for s in found]}


endpoint("paginggrouplist/query")(_list)
endpoint("paginggroup/list")(_list)


@endpoint("paginggroup/query", needs_body=True)
async def paginggroup_query(req: Request) -> dict[str, Any]:
    found = await PAGING_GROUPS.selected(_service(req).query, required(req.body, "number"))
    return {"paginggroup": [render(s.group, s.members, s.member_groups) for s in found]}


@endpoint("paginggroup/add", needs_body=True)
async def paginggroup_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), INVALID_VALUE)
    name = parse_room_name(required(req.body, "name"), INVALID_VALUE)
    kind = parse_type(required(req.body, "type"))
    await _service(req).add(number, name, kind, parse_changes(req.body))
    return {}


@endpoint("paginggroup/update", needs_body=True)
async def paginggroup_update(req: Request) -> dict[str, Any]:
    await update_existing(
        _service(req), required(req.body, "number").strip(), lambda: parse_changes(req.body)
    )
    return {}


@endpoint("paginggroup/delete", needs_body=True)
async def paginggroup_delete(req: Request) -> dict[str, Any]:
    await _service(req).delete(PAGING_GROUPS.chosen(required(req.body, "number")))
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        wire.NO_SUCH_EXTENSION: "10006",
        wire.GROUP_MISSING: "10011",
        wire.NUMBER_IN_USE: "10100",
        wire.INVALID_VALUE: "10101",
    }
)
