"""trunk/* endpoints (30-trunks.md) and the KiloPBX trunk settings extension
(docs/api-extensions/trunks-routes.md). Wire names live here only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.trunks import options, validation
from kilopbx.apps.trunks.models import Trunk
from kilopbx.apps.trunks.service import TRUNKS, TrunkInput, dod_text
from kilopbx.apps.trunks.wire_lists import parse_id_selector, parse_single_id

if TYPE_CHECKING:
    from kilopbx.apps.trunks.service import TrunkService


# wire name -> attribute name of the add/update request fields
WIRE_FIELDS = {
    "trunkname": "name",
    "host": "host",
    "port": "port",
    "domain": "domain",
    "username": "username",
    "authname": "auth_name",
    "fromuser": "from_user",
    "password": "password",
    "extensionsdod": "extensions_dod",
    "extensionsgroupdod": "groups_dod",
    "didsetting": "did_setting",
}


def trunk_service(req: Request) -> TrunkService:
    return req.pbx.registry.get(TRUNKS)


def _input(body: dict[str, Any], kind: str) -> TrunkInput:
    values = {}
    for wire_name, attribute in WIRE_FIELDS.items():
        text = optional(body, wire_name)
        if text is not None:
            values[attribute] = text
    return TrunkInput(kind=kind, values=values)


def trunk_info(trunk: Trunk, group_names: dict[int, str]) -> dict[str, str]:
    info = {"id": str(trunk.id), "trunkname": trunk.name, "trunktype": trunk.kind}
    if trunk.kind in ("register", "peer"):
        info |= {"host": trunk.host, "port": str(trunk.port), "domain": trunk.domain}
    if trunk.kind in ("register", "account"):
        info |= {"username": trunk.username, "authname": trunk.auth_name}
    if trunk.kind == "register":
        info["fromuser"] = trunk.from_user
    if trunk.kind in ("register", "account"):
        info["password"] = trunk.password
    info["extensionsdod"] = dod_text(trunk, "extension", group_names)
    info["extensionsgroupdod"] = dod_text(trunk, "group", group_names)
    if trunk.did_setting:
        info["didsetting"] = trunk.did_setting
    return info


@endpoint("trunk/list")
async def trunk_list(req: Request) -> dict[str, Any]:
    service = trunk_service(req)
    trunks = await service.all_trunks()
    return {
        "trunklist": [
            {
                "trunkname": trunk.name,
                "id": str(trunk.id),
                "status": service.status(trunk),
                "type": "SIP",
            }
            for trunk in trunks
        ]
    }


@endpoint("trunk/query_siptrunk", needs_body=True)
async def query_siptrunk(req: Request) -> dict[str, Any]:
    ids = parse_id_selector(required(req.body, "id"))
    service = trunk_service(req)
    trunks = await service.find(ids)
    group_names = await service.group_names(trunks)
    return {"trunks": [trunk_info(trunk, group_names) for trunk in trunks]}


@endpoint("trunk/add_siptrunk", needs_body=True)
async def add_siptrunk(req: Request) -> dict[str, Any]:
    required(req.body, "trunkname")
    kind = required(req.body, "trunktype")
    trunk = await trunk_service(req).add(_input(req.body, kind))
    return {"id": str(trunk.id)}


@endpoint("trunk/update_siptrunk", needs_body=True)
async def update_siptrunk(req: Request) -> dict[str, Any]:
    trunk_id = parse_single_id(required(req.body, "id"))
    kind = required(req.body, "trunktype")
    await trunk_service(req).update(trunk_id, _input(req.body, kind))
    return {}


@endpoint("trunk/delete_siptrunk", needs_body=True)
async def delete_siptrunk(req: Request) -> dict[str, Any]:
    ids = parse_id_selector(required(req.body, "id"))
    await trunk_service(req).delete(ids)
    return {}


# -- KiloPBX extension: settings the wire format lacks --------------------------------------


def trunk_settings(trunk: Trunk) -> dict[str, str]:
    info = {"id": str(trunk.id), "trunkname": trunk.name}
    return info | options.options_info(trunk, options.OPTIONS)


@endpoint("trunk/query_settings", needs_body=True)
async def query_settings(req: Request) -> dict[str, Any]:
    ids = parse_id_selector(required(req.body, "id"))
    trunks = await trunk_service(req).find(ids)
    return {"trunksettings": [trunk_settings(trunk) for trunk in trunks]}


@endpoint("trunk/update_settings", needs_body=True)
async def update_settings(req: Request) -> dict[str, Any]:
    trunk_id = parse_single_id(required(req.body, "id"))
    values = options.sent_options(req.body, options.OPTIONS)
    await trunk_service(req).update_options(trunk_id, values)
    return {}


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        options.CODECS_INVALID: "10910",
        options.TRANSPORT_INVALID: "10911",
        options.PROXY_INVALID: "10912",
        options.ENABLED_INVALID: "10913",
        options.CALLER_ID_INVALID: "10914",
        options.CALLER_NAME_INVALID: "10915",
        options.MAX_CHANNELS_INVALID: "10916",
        options.DTMF_MODE_INVALID: "10917",
        options.QUALIFY_INVALID: "10918",
        options.EXPIRY_INVALID: "10919",
        options.IDENTITY_INVALID: "10926",
        options.INBOUND_CONTROL_INVALID: "10940",
        validation.NAME_INVALID: "10042",
        validation.NAME_TAKEN: "10043",
        validation.TYPE_INVALID: "10044",
        validation.HOST_INVALID: "10045",
        validation.PORT_INVALID: "10046",
        validation.DOMAIN_INVALID: "10047",
        validation.USERNAME_INVALID: "10048",
        validation.USERNAME_TAKEN: "10049",
        validation.AUTHNAME_INVALID: "10050",
        validation.FROMUSER_INVALID: "10051",
        validation.PASSWORD_INVALID: "10052",
        validation.DOD_EXTENSION_UNKNOWN: "10053",
        validation.DOD_GROUP_UNKNOWN: "10054",
        validation.DOD_NUMBER_INVALID: "10055",
        validation.DOD_NUMBER_LENGTH: "10056",
        validation.DOD_NAME_INVALID: "10057",
        validation.DOD_NAME_LENGTH: "10058",
        validation.DOD_FORMAT: "10059",
        validation.TOO_MANY_TRUNKS: "10060",
        validation.DELETE_FAILED: "10061",
        validation.TRUNK_UNKNOWN: "10062",
    }
)
