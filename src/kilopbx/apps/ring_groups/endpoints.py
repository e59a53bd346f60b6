"""ringgroup/* endpoints (KiloPBX extension; docs/api-extensions/groups.md)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.ring_groups import wire
from kilopbx.apps.ring_groups.numbered import update_existing
from kilopbx.apps.ring_groups.service import RING_GROUP_SERVICE, RING_GROUPS, RingGroupService
from kilopbx.apps.ring_groups.values import parse_number
from kilopbx.apps.ring_groups.wire import INVALID_VALUE, parse_changes, render


def _service(req: Request) -> RingGroupService:
    return req.pbx.registry.get(RING_GROUP_SERVICE)


@endpoint("ringgroup/list")
async def ringgroup_list(req: Request) -> dict[str, Any]:
    groups = await _service(req).query(None)
    return {"ringgroups": [{"number": g.group.number, "name": g.group.name} for g in groups]}


@endpoint("ringgroup/query", needs_body=True)
async def ringgroup_query(req: Request) -> dict[str, Any]:
    groups = await RING_GROUPS.selected(_service(req).query, required(req.body, "number"))
    return {"ringgroups": [render(g.group, g.members) for g in groups]}


@endpoint("ringgroup/add", needs_body=True)
async def ringgroup_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), INVALID_VALUE)
    required(req.body, "name")
    await _service(req).add(number, parse_changes(req.body))
    return {}


@endpoint("ringgroup/update", needs_body=True)
async def ringgroup_update(req: Request) -> dict[str, Any]:
    await update_existing(
        _service(req), required(req.body, "number").strip(), lambda: parse_changes(req.body)
    )
    return {}


@endpoint("ringgroup/delete", needs_body=True)
async def ringgroup_delete(req: Request) -> dict[str, Any]:
    await _service(req).delete(RING_GROUPS.chosen(required(req.body, "number")))
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        wire.RING_GROUP_MISSING: "10014",
        wire.INVALID_VALUE: "10101",
        wire.NUMBER_IN_USE: "10100",
        wire.NO_SUCH_EXTENSION: "10006",
    }
)
