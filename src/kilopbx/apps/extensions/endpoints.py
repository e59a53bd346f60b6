"""extension/list, query, add, update, delete (spec 21) and the KiloPBX extensions
extension/renumber, extension/statusmonitor/* and extension/callwaiting/*
(docs/api-extensions/extensions.md)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import RenderedJson, Request, endpoint
from kilopbx.apps.extensions import validation
from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.extensions.selectors import parse_selector
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.extensions.validation import (
    NOT_FOUND,
    REQUIRED_ON_ADD,
    parse_changes,
    parse_number,
    parse_switch,
    required_text,
    text_of,
)
from kilopbx.apps.extensions.wire import number_order, settings_wire
from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.engine.routing import LINE_STATUS, compose_line_status


def in_number_order(rows: list[Extension]) -> list[Extension]:
    return sorted(rows, key=lambda ext: number_order(ext.number))


def _line_status(req: Request) -> Callable[[str], str]:
    """The composed line status: every feature that shapes it has its say."""
    sources = req.pbx.registry.contributions(LINE_STATUS)
    return lambda number: compose_line_status(sources, number)


async def selected(req: Request, text: str) -> list[Extension]:
    """The extensions a `number` selector names; 10006 when it names none that exist."""
    service = req.pbx.registry.get(EXTENSIONS)
    numbers = parse_selector(text)
    if numbers is None:
        return list(service.in_order())
    rows = await service.find(numbers)
    if not rows:
        raise DomainError(NOT_FOUND, detail=f"no extension {text.strip()}")
    return in_number_order(rows)


@endpoint("extension/list")
async def extension_list(req: Request) -> RenderedJson:
    # polled often, also while thousands of REGISTERs a second share the loop: the
    # entries stay rendered until an extension changes (listing.py), only the live
    # status is asked each time
    service = req.pbx.registry.get(EXTENSIONS)
    sources = req.pbx.registry.contributions(LINE_STATUS)
    return RenderedJson(service.listing.body(service.generation, service.in_order, sources))


@endpoint("extension/query")
async def extension_query(req: Request) -> dict[str, Any]:
    # 1.x clients omit the selector to mean "all"; present but empty is still 10004
    text = "all" if text_of(req.body, "number") is None else required_text(req.body, "number")
    status = _line_status(req)
    rows = await selected(req, text)
    return {"extinfos": [settings_wire(ext, status(ext.number)) for ext in rows]}


@endpoint("extension/add", needs_body=True)
async def extension_add(req: Request) -> None:
    for field in REQUIRED_ON_ADD:
        required_text(req.body, field)
    number = parse_number("number", required_text(req.body, "number"))
    changes = parse_changes(req.body)
    login_password = text_of(req.body, "loginpassword") or None  # "": not given
    await req.pbx.registry.get(EXTENSIONS).add(number, changes, login_password)


@endpoint("extension/update", needs_body=True)
async def extension_update(req: Request) -> None:
    number = required_text(req.body, "number").strip()
    changes = parse_changes(req.body)
    login_password = text_of(req.body, "loginpassword") or None  # "": not given
    await req.pbx.registry.get(EXTENSIONS).update(number, changes, login_password)


@endpoint("extension/delete", needs_body=True)
async def extension_delete(req: Request) -> None:
    text = required_text(req.body, "number")
    await req.pbx.registry.get(EXTENSIONS).delete(parse_selector(text))


# -- KiloPBX extensions ---------------------------------------------------------------------


@endpoint("extension/renumber", needs_body=True)
async def extension_renumber(req: Request) -> None:
    old = required_text(req.body, "number").strip()
    new = parse_number("newnumber", required_text(req.body, "newnumber"))
    await req.pbx.registry.get(EXTENSIONS).renumber(old, new)


@endpoint("extension/statusmonitor/query")
async def statusmonitor_query(req: Request) -> dict[str, Any]:
    rows = req.pbx.registry.get(EXTENSIONS).in_order()
    return {
        "monitored": ",".join(ext.number for ext in rows if ext.status_monitored),
        "unmonitored": ",".join(ext.number for ext in rows if not ext.status_monitored),
    }


@endpoint("extension/statusmonitor/update", needs_body=True)
async def statusmonitor_update(req: Request) -> None:
    text = required_text(req.body, "number")
    monitored = parse_switch("monitor", required_text(req.body, "monitor"))
    numbers = parse_selector(text)
    if numbers is not None and not numbers:
        raise DomainError(MISSING_PARAMETER, detail="number is required")
    await req.pbx.registry.get(EXTENSIONS).set_monitoring(numbers, monitored)


@endpoint("extension/callwaiting/query")
async def callwaiting_query(req: Request) -> dict[str, Any]:
    rows = req.pbx.registry.get(EXTENSIONS).in_order()
    return {
        "on": ",".join(ext.number for ext in rows if ext.call_waiting is True),
        "off": ",".join(ext.number for ext in rows if ext.call_waiting is False),
        "default": ",".join(ext.number for ext in rows if ext.call_waiting is None),
    }


@endpoint("extension/callwaiting/update", needs_body=True)
async def callwaiting_update(req: Request) -> None:
    text = required_text(req.body, "number")
    value = required_text(req.body, "callwaiting").strip().lower()
    waiting = None if value == "default" else parse_switch("callwaiting", value)
    numbers = parse_selector(text)
    if numbers is not None and not numbers:
        raise DomainError(MISSING_PARAMETER, detail="number is required")
    await req.pbx.registry.get(EXTENSIONS).set_call_waiting(numbers, waiting)


@endpoint("extension/privacy/query")
async def privacy_query(req: Request) -> dict[str, Any]:
    rows = req.pbx.registry.get(EXTENSIONS).in_order()
    return {
        "hidden": ",".join(ext.number for ext in rows if ext.hide_number),
        "shown": ",".join(ext.number for ext in rows if not ext.hide_number),
    }


@endpoint("extension/privacy/update", needs_body=True)
async def privacy_update(req: Request) -> None:
    text = required_text(req.body, "number")
    hidden = parse_switch("hidenumber", required_text(req.body, "hidenumber"))
    numbers = parse_selector(text)
    if numbers is not None and not numbers:
        raise DomainError(MISSING_PARAMETER, detail="number is required")
    await req.pbx.registry.get(EXTENSIONS).set_hide_number(numbers, hidden)


# the errno each reason of this feature answers on the wire (X-KiloPBX-Detail
# carries the detail)
map_reasons(
    {
        validation.INVALID: "10017",
        validation.NOT_FOUND: "10006",
    }
)


# -- pickup groups (a KiloPBX extension; docs/api-extensions/extensions.md) -----------------

PICKUP_GROUP = re.compile(r"[A-Za-z0-9_-]{1,32}")
NO_PICKUP_GROUP = "none"


@endpoint("extension/pickupgroup/query")
async def pickupgroup_query(req: Request) -> dict[str, Any]:
    rows = req.pbx.registry.get(EXTENSIONS).in_order()
    groups: dict[str, list[str]] = {}
    for ext in rows:
        if ext.pickup_group:
            groups.setdefault(ext.pickup_group, []).append(ext.number)
    return {
        "pickupgroups": [
            {"pickupgroup": name, "members": ",".join(members)}
            for name, members in sorted(groups.items())
        ],
        "nogroup": ",".join(ext.number for ext in rows if not ext.pickup_group),
    }


@endpoint("extension/pickupgroup/update", needs_body=True)
async def pickupgroup_update(req: Request) -> None:
    text = required_text(req.body, "number")
    group = required_text(req.body, "pickupgroup").strip()
    if group.lower() == NO_PICKUP_GROUP:
        group = ""
    elif not PICKUP_GROUP.fullmatch(group):
        raise validation.invalid("pickupgroup", "1 to 32 letters, digits, _ or -, or none")
    numbers = parse_selector(text)
    if numbers is not None and not numbers:
        raise DomainError(MISSING_PARAMETER, detail="number is required")
    await req.pbx.registry.get(EXTENSIONS).set_pickup_group(numbers, group)
