"""paginggrouplist/query (alias paginggroup/list), paginggroup/query, add, update and
delete (spec 51-paging.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.errors import ApiError
from kilopbx.api.params import required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.paging.service import PagingService
from kilopbx.apps.paging.wire import (
    GROUP_MISSING,
    INVALID_VALUE,
    parse_changes,
    parse_type,
    render,
)
from kilopbx.apps.ring_groups.values import parse_number, parse_room_name, parse_selector


def _service(req: Request) -> PagingService:
    return req.pbx.features["kilopbx.apps.paging.feature"].service


async def _list(req: Request) -> dict[str, Any]:
    found = await _service(req).query(None)
    return {"paginggrouplist": [{"number": s.group.number, "name": s.group.name} for s in found]}


endpoint("paginggrouplist/query")(_list)
endpoint("paginggroup/list")(_list)


@endpoint("paginggroup/query", needs_body=True)
async def paginggroup_query(req: Request) -> dict[str, Any]:
    numbers = parse_selector(required(req.body, "number"), GROUP_MISSING)
    found = await _service(req).query(numbers)
    if numbers is not None and not found:
        raise ApiError(GROUP_MISSING, detail="no such paging group")
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
    number = required(req.body, "number").strip()
    service = _service(req)
    await service.ensure_exists(number)
    await service.update(number, parse_changes(req.body))
    return {}


@endpoint("paginggroup/delete", needs_body=True)
async def paginggroup_delete(req: Request) -> dict[str, Any]:
    numbers = parse_selector(required(req.body, "number"), GROUP_MISSING)
    if numbers == []:
        raise ApiError(GROUP_MISSING, detail="no such paging group")
    await _service(req).delete(numbers)
    return {}
