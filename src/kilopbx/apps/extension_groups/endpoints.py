"""extensiongroup/query, add, update, delete (spec 22)."""

from __future__ import annotations

from typing import Any

from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.extension_groups import service
from kilopbx.apps.extension_groups.service import EXTENSION_GROUPS
from kilopbx.apps.extension_groups.wire import (
    group_wire,
    parse_id,
    parse_ids,
    parse_members,
    parse_name,
    unknown_members_wire,
)
from kilopbx.apps.extensions.validation import required_text, text_of


@endpoint("extensiongroup/query", needs_body=True)
async def extensiongroup_query(req: Request) -> dict[str, Any]:
    ids = parse_ids(required_text(req.body, "id"))
    groups = await req.pbx.registry.get(EXTENSION_GROUPS).query(ids)
    return {"extgroupinfos": [group_wire(group) for group in groups]}


@endpoint("extensiongroup/add", needs_body=True)
async def extensiongroup_add(req: Request) -> dict[str, Any]:
    name = parse_name(required_text(req.body, "name"))
    members = parse_members(required_text(req.body, "members"))
    group_id, unknown = await req.pbx.registry.get(EXTENSION_GROUPS).add(name, members)
    return {"id": str(group_id), **unknown_members_wire(unknown)}


@endpoint("extensiongroup/update", needs_body=True)
async def extensiongroup_update(req: Request) -> dict[str, Any]:
    group_id = parse_id(required_text(req.body, "id"))
    name_text = text_of(req.body, "name")
    name = None if name_text is None else parse_name(name_text)
    members_text = text_of(req.body, "members")
    members = None if members_text is None else parse_members(members_text)
    unknown = await req.pbx.registry.get(EXTENSION_GROUPS).update(group_id, name, members)
    return unknown_members_wire(unknown)


@endpoint("extensiongroup/delete", needs_body=True)
async def extensiongroup_delete(req: Request) -> None:
    ids = parse_ids(required_text(req.body, "id"))
    await req.pbx.registry.get(EXTENSION_GROUPS).delete(ids)


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        service.INVALID: "10017",
    }
)
