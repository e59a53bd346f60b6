"""ivr/query and ivr/update (spec 40-ivr.md) and the KiloPBX extensions ivr/add,
ivr/delete, ivr/query_destinations and ivr/update_destinations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kilopbx.api.params import required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.ivr import wire
from kilopbx.apps.ivr.service import IVR_SERVICE, IVRS, IvrService
from kilopbx.apps.ivr.wire import (
    IVR_INVALID,
    check_prompt,
    parse_destinations,
    parse_settings,
    render,
    render_destinations,
    selected_number,
)
from kilopbx.apps.prompts.store import PROMPTS
from kilopbx.apps.ring_groups.numbered import update_existing
from kilopbx.apps.ring_groups.values import parse_number, required_text


def _service(req: Request) -> IvrService:
    return req.pbx.registry.get(IVR_SERVICE)


def _number(req: Request) -> str:
    return required_text(selected_number(req.body))


async def _selected(req: Request) -> list[Any]:
    return await IVRS.selected(_service(req).query, _number(req))


@endpoint("ivr/query", needs_body=True)
async def ivr_query(req: Request) -> dict[str, Any]:
    return {"ivr": [render(stored.ivr) for stored in await _selected(req)]}


@endpoint("ivr/update", needs_body=True)
async def ivr_update(req: Request) -> dict[str, Any]:
    await update_existing(_service(req), _number(req), lambda: parse_settings(req.body))
    return {}


@endpoint("ivr/add", needs_body=True)
async def ivr_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), IVR_INVALID)
    required(req.body, "ivrname")
    changes = parse_destinations(req.body, parse_settings(req.body))
    check_prompt(changes, _prompt_exists(req))
    await _service(req).add(number, changes)
    return {}


@endpoint("ivr/delete", needs_body=True)
async def ivr_delete(req: Request) -> dict[str, Any]:
    await _service(req).delete(IVRS.chosen(_number(req)))
    return {}


@endpoint("ivr/query_destinations", needs_body=True)
async def ivr_query_destinations(req: Request) -> dict[str, Any]:
    found = await _selected(req)
    return {"ivrdestinations": [render_destinations(s.ivr, s.keys) for s in found]}


@endpoint("ivr/update_destinations", needs_body=True)
async def ivr_update_destinations(req: Request) -> dict[str, Any]:
    def changes() -> wire.IvrChanges:
        parsed = parse_destinations(req.body)
        check_prompt(parsed, _prompt_exists(req))
        return parsed

    await update_existing(_service(req), _number(req), changes)
    return {}


def _prompt_exists(req: Request) -> Callable[[str], bool]:
    store = req.pbx.registry.find(PROMPTS)
    return store.exists if store is not None else lambda name: False


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        wire.IVR_MISSING: "10012",
        wire.IVR_INVALID: "10018",
        wire.NUMBER_IN_USE: "10100",
    }
)
