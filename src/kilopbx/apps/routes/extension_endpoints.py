"""KiloPBX extensions of the route API (docs/api-extensions/trunks-routes.md): business
hours on inbound routes, evaluation order, outbound-route options."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import optional, required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.routes import route_options
from kilopbx.apps.routes.inbound_service import INBOUND_ROUTES
from kilopbx.apps.routes.models import InboundRoute, OutboundRoute
from kilopbx.apps.routes.outbound_service import OUTBOUND_ROUTES
from kilopbx.apps.timeconditions.service import TIME_CONDITIONS, is_open
from kilopbx.apps.trunks.options import options_info, sent_options
from kilopbx.apps.trunks.wire_lists import parse_id_selector, parse_single_id
from kilopbx.core.errors import MISSING_PARAMETER, DomainError


async def _hours_info(req: Request, route: InboundRoute) -> dict[str, str]:
    time_conditions = req.pbx.registry.get(TIME_CONDITIONS)
    state = "always"
    if route.time_condition_id is not None:
        conditions = await time_conditions.find([route.time_condition_id])
        state = "open" if is_open(conditions[0], time_conditions.clock.now()) else "closed"
    return {
        "id": str(route.id),
        "name": route.name,
        "timecondition": "" if route.time_condition_id is None else str(route.time_condition_id),
        "outofhoursdesttype": route.off_hours_dest_type,
        "outofhoursdest": route.off_hours_dest,
        "state": state,
    }


@endpoint("inroute/query_hours", needs_body=True)
async def inroute_query_hours(req: Request) -> dict[str, Any]:
    routes = await req.pbx.registry.get(INBOUND_ROUTES).find(
        parse_id_selector(required(req.body, "id"))
    )
    return {"inroutehours": [await _hours_info(req, route) for route in routes]}


@endpoint("inroute/set_hours", needs_body=True)
async def inroute_set_hours(req: Request) -> dict[str, Any]:
    route_id = parse_single_id(required(req.body, "id"))
    condition = optional(req.body, "timecondition")
    if condition is None:  # "" is sent to remove the business hours
        raise DomainError(MISSING_PARAMETER, "timecondition is required")
    await req.pbx.registry.get(INBOUND_ROUTES).set_hours(
        route_id,
        condition,
        optional(req.body, "outofhoursdesttype"),
        optional(req.body, "outofhoursdest"),
    )
    return {}


@endpoint("inroute/set_order", needs_body=True)
async def inroute_set_order(req: Request) -> dict[str, Any]:
    await req.pbx.registry.get(INBOUND_ROUTES).reorder(parse_id_selector(required(req.body, "id")))
    return {}


@endpoint("outroute/set_order", needs_body=True)
async def outroute_set_order(req: Request) -> dict[str, Any]:
    await req.pbx.registry.get(OUTBOUND_ROUTES).reorder(parse_id_selector(required(req.body, "id")))
    return {}


def _options_info(route: OutboundRoute) -> dict[str, str]:
    return {"id": str(route.id), "name": route.name} | options_info(route, route_options.OPTIONS)


@endpoint("outroute/query_options", needs_body=True)
async def outroute_query_options(req: Request) -> dict[str, Any]:
    routes = await req.pbx.registry.get(OUTBOUND_ROUTES).find(
        parse_id_selector(required(req.body, "id"))
    )
    return {"outrouteoptions": [_options_info(route) for route in routes]}


@endpoint("outroute/update_options", needs_body=True)
async def outroute_update_options(req: Request) -> dict[str, Any]:
    route_id = parse_single_id(required(req.body, "id"))
    values = sent_options(req.body, route_options.OPTIONS)
    await req.pbx.registry.get(OUTBOUND_ROUTES).update_options(route_id, values)
    return {}
