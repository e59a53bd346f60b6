"""inroute/* and outroute/* endpoints (31-routes.md) and the KiloPBX route extensions
(docs/api-extensions/trunks-routes.md). Wire names live here only."""

from __future__ import annotations

from typing import Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.routes import route_options, route_table, validation
from kilopbx.apps.routes.inbound_service import INBOUND_ROUTES, InboundInput
from kilopbx.apps.routes.models import InboundRoute, OutboundRoute
from kilopbx.apps.routes.outbound_service import ALL_EXTENSIONS, OUTBOUND_ROUTES, OutboundInput
from kilopbx.apps.trunks.wire_lists import parse_id_selector, parse_single_id


def _ids(req: Request) -> list[int] | None:
    return parse_id_selector(required(req.body, "id"))


def _single_id(req: Request) -> int | None:
    return parse_single_id(required(req.body, "id"))


# -- inbound ---------------------------------------------------------------------------------


def inbound_input(body: dict[str, Any]) -> InboundInput:
    return InboundInput(
        name=optional(body, "name"),
        did=optional(body, "did"),
        caller=optional(body, "caller_id"),
        trunks=optional(body, "trunks"),
        dest_type=optional(body, "desttype"),
        dest=optional(body, "dest"),
    )


def inroute_info(route: InboundRoute) -> dict[str, str]:
    return {
        "id": str(route.id),
        "name": route.name,
        "did": route.did_pattern,
        "caller_id": route.caller_pattern,
        "trunks": ",".join(link.trunk.name for link in route.trunk_links),
        "desttype": route.dest_type,
        "dest": route.dest,
    }


@endpoint("inroute/query", needs_body=True)
async def inroute_query(req: Request) -> dict[str, Any]:
    routes = await req.pbx.registry.get(INBOUND_ROUTES).find(_ids(req))
    return {"inroutes": [inroute_info(route) for route in routes]}


@endpoint("inroute/add", needs_body=True)
async def inroute_add(req: Request) -> dict[str, Any]:
    for key in ("name", "trunks", "desttype"):
        required(req.body, key)
    route = await req.pbx.registry.get(INBOUND_ROUTES).add(inbound_input(req.body))
    return {"id": str(route.id)}


@endpoint("inroute/update", needs_body=True)
async def inroute_update(req: Request) -> dict[str, Any]:
    await req.pbx.registry.get(INBOUND_ROUTES).update(_single_id(req), inbound_input(req.body))
    return {}


@endpoint("inroute/delete", needs_body=True)
async def inroute_delete(req: Request) -> dict[str, Any]:
    await req.pbx.registry.get(INBOUND_ROUTES).delete(_ids(req))
    return {}


# -- outbound --------------------------------------------------------------------------------


def outbound_input(body: dict[str, Any]) -> OutboundInput:
    return OutboundInput(
        name=optional(body, "name"),
        prefix=optional(body, "prefix"),
        strip=optional(body, "strip"),
        prepend=optional(body, "prepend"),
        trunks=optional(body, "trunks"),
        extensions=optional(body, "extensions"),
        groups=optional(body, "extensionsgroup"),
    )


def outroute_info(route: OutboundRoute, group_names: dict[int, str]) -> dict[str, str]:
    extensions = (
        ALL_EXTENSIONS
        if route.all_extensions
        else ",".join(link.number for link in route.extension_links)
    )
    return {
        "id": str(route.id),
        "name": route.name,
        "prefix": route.prefix,
        "strip": "" if route.strip is None else str(route.strip),
        "prepend": route.prepend,
        "trunks": ",".join(link.trunk.name for link in route.trunk_links),
        "extensions": extensions,
        "extensionsgroup": ",".join(
            group_names[link.group_id] for link in route.group_links if link.group_id in group_names
        ),
    }


@endpoint("outroute/query", needs_body=True)
async def outroute_query(req: Request) -> dict[str, Any]:
    service = req.pbx.registry.get(OUTBOUND_ROUTES)
    routes = await service.find(_ids(req))
    group_names = await service.group_names(routes)
    return {"outroutes": [outroute_info(route, group_names) for route in routes]}


@endpoint("outroute/add", needs_body=True)
async def outroute_add(req: Request) -> dict[str, Any]:
    for key in ("name", "prefix", "trunks", "extensions"):
        required(req.body, key)
    route = await req.pbx.registry.get(OUTBOUND_ROUTES).add(outbound_input(req.body))
    return {"id": str(route.id)}


@endpoint("outroute/update", needs_body=True)
async def outroute_update(req: Request) -> dict[str, Any]:
    await req.pbx.registry.get(OUTBOUND_ROUTES).update(_single_id(req), outbound_input(req.body))
    return {}


@endpoint("outroute/delete", needs_body=True)
async def outroute_delete(req: Request) -> dict[str, Any]:
    await req.pbx.registry.get(OUTBOUND_ROUTES).delete(_ids(req))
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        route_options.CALLER_PATTERN_INVALID: "10921",
        route_options.CALLER_ID_INVALID: "10922",
        route_options.CALLER_NAME_INVALID: "10923",
        route_options.PIN_INVALID: "10924",
        route_options.RECORD_INVALID: "10925",
        route_table.ORDER_INVALID: "10920",
        validation.INBOUND_NAME_INVALID: "10063",
        validation.INBOUND_DUPLICATE: "10064",
        validation.DID_INVALID: "10065",
        validation.CALLER_ID_INVALID: "10066",
        validation.INBOUND_TRUNK_UNKNOWN: "10067",
        validation.DESTTYPE_INVALID: "10068",
        validation.DEST_INVALID: "10069",
        validation.TOO_MANY_INBOUND: "10070",
        validation.INBOUND_DELETE_FAILED: "10071",
        validation.INBOUND_UNKNOWN: "10072",
        validation.OUTBOUND_NAME_INVALID: "10073",
        validation.OUTBOUND_DUPLICATE: "10074",
        validation.PREFIX_INVALID: "10075",
        validation.STRIP_INVALID: "10076",
        validation.PREPEND_INVALID: "10077",
        validation.OUTBOUND_TRUNK_UNKNOWN: "10078",
        validation.EXTENSION_UNKNOWN: "10079",
        validation.GROUP_UNKNOWN: "10080",
        validation.TOO_MANY_OUTBOUND: "10081",
        validation.OUTBOUND_DELETE_FAILED: "10082",
        validation.OUTBOUND_UNKNOWN: "10083",
    }
)
