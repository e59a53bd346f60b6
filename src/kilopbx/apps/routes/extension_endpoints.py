"""KiloPBX extensions of the route API (docs/api-extensions/trunks-routes.md): business
hours on inbound routes, evaluation order, outbound-route options."""

from __future__ import annotations

from typing import Any

from kilopbx.api.errors import MISSING_PARAMETER, ApiError
from kilopbx.api.params import optional, required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.routes import route_options
from kilopbx.apps.routes.endpoints import routes_feature
from kilopbx.apps.routes.models import InboundRoute, OutboundRoute
from kilopbx.apps.timeconditions.service import is_open
from kilopbx.apps.trunks.options import options_info, sent_options
from kilopbx.apps.trunks.wire_lists import parse_id_selector, parse_single_id


async def _hours_info(req: Request, route: InboundRoute) -> dict[str, str]:
    feature = routes_feature(req)
    state = "always"
    if route.time_condition_id is not None:
        conditions = await feature.time_conditions.find([route.time_condition_id])
        state = "open" if is_open(conditions[0], feature.time_conditions.clock.now()) else "closed"
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
    routes = await routes_feature(req).inbound.find(parse_id_selector(required(req.body, "id")))
    return {"inroutehours": [await _hours_info(req, route) for route in routes]}


@endpoint("inroute/set_hours", needs_body=True)
async def inroute_set_hours(req: Request) -> dict[str, Any]:
    route_id = parse_single_id(required(req.body, "id"))
    condition = optional(req.body, "timecondition")
    if condition is None:  # "" is sent to remove the business hours
        raise ApiError(MISSING_PARAMETER, "timecondition is required")
    await routes_feature(req).inbound.set_hours(
        route_id,
        condition,
        optional(req.body, "outofhoursdesttype"),
        optional(req.body, "outofhoursdest"),
    )
    return {}


@endpoint("inroute/set_order", needs_body=True)
async def inroute_set_order(req: Request) -> dict[str, Any]:
    await routes_feature(req).inbound.reorder(parse_id_selector(required(req.body, "id")))
    return {}


@endpoint("outroute/set_order", needs_body=True)
async def outroute_set_order(req: Request) -> dict[str, Any]:
    await routes_feature(req).outbound.reorder(parse_id_selector(required(req.body, "id")))
    return {}


def _options_info(route: OutboundRoute) -> dict[str, str]:
    return {"id": str(route.id), "name": route.name} | options_info(route, route_options.OPTIONS)


@endpoint("outroute/query_options", needs_body=True)
async def outroute_query_options(req: Request) -> dict[str, Any]:
    routes = await routes_feature(req).outbound.find(parse_id_selector(required(req.body, "id")))
    return {"outrouteoptions": [_options_info(route) for route in routes]}


@endpoint("outroute/update_options", needs_body=True)
async def outroute_update_options(req: Request) -> dict[str, Any]:
    route_id = parse_single_id(required(req.body, "id"))
    values = sent_options(req.body, route_options.OPTIONS)
    await routes_feature(req).outbound.update_options(route_id, values)
    return {}
