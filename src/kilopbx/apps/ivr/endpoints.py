"""ivr/query and ivr/update (spec 40-ivr.md) and the KiloPBX extensions ivr/add,
ivr/delete, ivr/query_destinations and ivr/update_destinations."""

from __future__ import annotations

from typing import Any

from kilopbx.api.errors import MISSING_PARAMETER, ApiError
from kilopbx.api.params import required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.ivr.service import IvrService
from kilopbx.apps.ivr.wire import (
    IVR_INVALID,
    IVR_MISSING,
    parse_destinations,
    parse_settings,
    render,
    render_destinations,
    selected_number,
)
from kilopbx.apps.ring_groups.values import parse_number, parse_selector


def _service(req: Request) -> IvrService:
    return req.pbx.features["kilopbx.apps.ivr.feature"].service


def _number(req: Request) -> str:
    text = selected_number(req.body)
    if text is None or not text.strip():
        raise ApiError(MISSING_PARAMETER)
    return text.strip()


async def _selected(req: Request) -> list[Any]:
    numbers = parse_selector(_number(req), IVR_MISSING)
    found = await _service(req).query(numbers)
    if numbers is not None and not found:
        raise ApiError(IVR_MISSING, detail="no such IVR")
    return found


@endpoint("ivr/query", needs_body=True)
async def ivr_query(req: Request) -> dict[str, Any]:
    return {"ivr": [render(stored.ivr) for stored in await _selected(req)]}


@endpoint("ivr/update", needs_body=True)
async def ivr_update(req: Request) -> dict[str, Any]:
    number = _number(req)
    service = _service(req)
    await service.ensure_exists(number)
    await service.update(number, parse_settings(req.body))
    return {}


@endpoint("ivr/add", needs_body=True)
async def ivr_add(req: Request) -> dict[str, Any]:
    number = parse_number(required(req.body, "number"), IVR_INVALID)
    required(req.body, "ivrname")
    changes = parse_destinations(req.body, parse_settings(req.body))
    await _service(req).add(number, changes)
    return {}


@endpoint("ivr/delete", needs_body=True)
async def ivr_delete(req: Request) -> dict[str, Any]:
    numbers = parse_selector(_number(req), IVR_MISSING)
    if numbers == []:
        raise ApiError(IVR_MISSING, detail="no such IVR")
    await _service(req).delete(numbers)
    return {}


@endpoint("ivr/query_destinations", needs_body=True)
async def ivr_query_destinations(req: Request) -> dict[str, Any]:
    found = await _selected(req)
    return {"ivrdestinations": [render_destinations(s.ivr, s.keys) for s in found]}


@endpoint("ivr/update_destinations", needs_body=True)
async def ivr_update_destinations(req: Request) -> dict[str, Any]:
    number = _number(req)
    service = _service(req)
    await service.ensure_exists(number)
    await service.update(number, parse_destinations(req.body))
    return {}
