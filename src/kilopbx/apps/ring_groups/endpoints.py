"""ringgroup/* endpoints (KiloPBX extension; docs/api-extensions/groups.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.errors import ApiError
from kilopbx.api.params import required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.ring_groups.service import RingGroupService
from kilopbx.apps.ring_groups.values import parse_number, parse_selector
from kilopbx.apps.ring_groups.wire import (
    INVALID_VALUE,
    RING_GROUP_MISSING,
    parse_changes,
    render,
)


def _service(req: Request) -> RingGroupService:
    return req.pbx.features["kilopbx.apps.ring_groups.feature"].service


@endpoint("ringgroup/list")
async def ringgroup_list(req: Request) -> dict[str, Any]:
    groups = await _service(req).query(None)
    return {"ringgroups": [{"number": g.group.number, "name": g.group.name} for g in groups]}


@endpoint("ringgroup/query", needs_body=True)
async def ringgroup_query(req: Request) -> dict[str, Any]:
    numbers = parse_selector(required(req.body, "number"), RING_GROUP_MISSING)
    groups = await _service(req).query(numbers)
    if numbers is not None and not groups:
        raise ApiError(RING_GROUP_MISSING, detail="no such ring group")
    return {"ringgroups": [render(g.group, g.members) for g in groups]}


@endpoint("ringgroup/add", needs_body=True)
async def ringgroup_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), INVALID_VALUE)
    required(req.body, "name")
    await _service(req).add(number, parse_changes(req.body))
    return {}


@endpoint("ringgroup/update", needs_body=True)
async def ringgroup_update(req: Request) -> dict[str, Any]:
    number = required(req.body, "number").strip()
    service = _service(req)
    await service.ensure_exists(number)
    await service.update(number, parse_changes(req.body))
    return {}


@endpoint("ringgroup/delete", needs_body=True)
async def ringgroup_delete(req: Request) -> dict[str, Any]:
    numbers = parse_selector(required(req.body, "number"), RING_GROUP_MISSING)
    if numbers == []:
        raise ApiError(RING_GROUP_MISSING, detail="no such ring group")
    await _service(req).delete(numbers)
    return {}
