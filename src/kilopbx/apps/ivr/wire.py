"""IVRs on the wire: spec 40-ivr.md fields plus the KiloPBX destination fields."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kilopbx.apps.ivr.models import DEFAULT_PROMPT, Ivr, IvrKey
from kilopbx.apps.ring_groups.destinations import parse_route_type
from kilopbx.apps.ring_groups.values import (
    ON_OFF,
    invalid,
    number_or_alias,
    on_off,
    parse_int,
    parse_ivr_queue_name,
    parse_on_off,
    split_list,
    switch_field,
    text_field,
)

IVR_MISSING = "ivr.ivr_missing"
IVR_INVALID = "ivr.ivr_invalid"
NUMBER_IN_USE = "ivr.number_in_use"

PROMPT_REPEAT_RANGE = (1, 5)
TIMEOUT_RANGE = (1, 10)
KEYS = "0123456789*#"
ROUTE_NAME = re.compile(r"[^,;\"'<>\\\x00-\x1f]{1,63}")
REMOVE_KEY = {"", "none"}


@dataclass
class KeyChange:
    key: str
    dest_type: str | None  # None: unmap the key
    dest_value: str | None


@dataclass
class IvrChanges:
    name: str | None = None
    prompt_repeat: int | None = None
    response_timeout: int | None = None
    digit_timeout: int | None = None
    dial_extensions: bool | None = None
    dial_outbound_routes: bool | None = None
    dial_check_voicemail: bool | None = None
    selected_routes: list[str] | None = None
    timeout_type: str | None = None
    timeout_value: str | None = None
    invalid_type: str | None = None
    invalid_value: str | None = None
    keys: list[KeyChange] = field(default_factory=list)
    prompt: str | None = None  # "[Default]" or a prompt's name (checked by the endpoint)


def selected_number(body: dict[str, Any]) -> str | None:
    """`number`, or the v1.1 alias `ivrid` when `number` is absent."""
    return number_or_alias(body, "ivrid")


def parse_settings(body: dict[str, Any], changes: IvrChanges | None = None) -> IvrChanges:
    """The ivr/update fields (spec 40); anything else is ignored."""
    changes = changes or IvrChanges()
    if (text := text_field(body, "ivrname")) is not None:
        changes.name = parse_ivr_queue_name(text, IVR_INVALID, "ivrname")
    if (text := text_field(body, "promptrepeat")) is not None:
        changes.prompt_repeat = parse_int(text, IVR_INVALID, "promptrepeat", *PROMPT_REPEAT_RANGE)
    if (text := text_field(body, "responsetimeout")) is not None:
        changes.response_timeout = parse_int(text, IVR_INVALID, "responsetimeout", *TIMEOUT_RANGE)
    if (text := text_field(body, "digittimeout")) is not None:
        changes.digit_timeout = parse_int(text, IVR_INVALID, "digittimeout", *TIMEOUT_RANGE)
    if (text := switch_field(body, "dialext", ON_OFF)) is not None:
        changes.dial_extensions = parse_on_off(text, IVR_INVALID, "dialext")
    if (text := switch_field(body, "dialoutboundroutes", ON_OFF)) is not None:
        changes.dial_outbound_routes = parse_on_off(text, IVR_INVALID, "dialoutboundroutes")
    if (text := switch_field(body, "dialtocheckvoicemail", ON_OFF)) is not None:
        changes.dial_check_voicemail = parse_on_off(text, IVR_INVALID, "dialtocheckvoicemail")
    if (text := text_field(body, "selectedrouters")) is not None:
        names = split_list(text)
        for name in names:
            if not ROUTE_NAME.fullmatch(name):
                raise invalid(IVR_INVALID, "selectedrouters", name, "is not a route name")
        changes.selected_routes = names
    return changes


def parse_destinations(body: dict[str, Any], changes: IvrChanges | None = None) -> IvrChanges:
    """The KiloPBX destination fields: timeout, invalid input and key presses."""
    changes = changes or IvrChanges()
    if (text := text_field(body, "timeoutdesttype")) is not None:
        changes.timeout_type = parse_route_type(text, IVR_INVALID, "timeoutdesttype")
    changes.timeout_value = text_field(body, "timeoutdest")
    if (text := text_field(body, "invaliddesttype")) is not None:
        changes.invalid_type = parse_route_type(text, IVR_INVALID, "invaliddesttype")
    changes.invalid_value = text_field(body, "invaliddest")
    if "keys" in body:
        changes.keys = _parse_keys(body["keys"])
    if (text := text_field(body, "prompt")) is not None and text.strip():
        changes.prompt = text.strip()[:128]
    return changes


def check_prompt(changes: IvrChanges, exists: Callable[[str], bool]) -> None:
    """An IVR's prompt is `[Default]` or a prompt that exists (custom or system)."""
    prompt = changes.prompt
    if prompt is not None and prompt != DEFAULT_PROMPT and not exists(prompt):
        raise invalid(IVR_INVALID, "prompt", prompt, "no such prompt; upload it first")


def _parse_keys(raw: Any) -> list[KeyChange]:
    if not isinstance(raw, list) or len(raw) > len(KEYS):
        raise invalid(IVR_INVALID, "keys", str(raw), f"must be a list of at most {len(KEYS)}")
    parsed: dict[str, KeyChange] = {}
    for entry in raw:
        if not isinstance(entry, dict):
            raise invalid(IVR_INVALID, "keys", str(entry), "each entry must be an object")
        key = (text_field(entry, "key") or "").strip()
        if len(key) != 1 or key not in KEYS:
            raise invalid(IVR_INVALID, "key", key, "must be one of 0-9, * or #")
        dest_type_text = text_field(entry, "desttype") or ""
        if dest_type_text.strip().lower() in REMOVE_KEY:
            parsed[key] = KeyChange(key, None, None)
            continue
        dest_type = parse_route_type(dest_type_text, IVR_INVALID, "desttype")
        parsed[key] = KeyChange(key, dest_type, text_field(entry, "dest"))
    return list(parsed.values())


def render(ivr: Ivr) -> dict[str, str]:
    answer = {
        "number": ivr.number,
        "ivrname": ivr.name,
        "prompt": ivr.prompt,
        "promptrepeat": str(ivr.prompt_repeat),
        "responsetimeout": str(ivr.response_timeout),
        "digittimeout": str(ivr.digit_timeout),
        "dialext": on_off(ivr.dial_extensions),
        "dialoutboundroutes": on_off(ivr.dial_outbound_routes),
        "dialtocheckvoicemail": on_off(ivr.dial_check_voicemail),
    }
    if ivr.dial_outbound_routes:
        answer["selectedrouters"] = ivr.selected_routes
    return answer


def render_destinations(ivr: Ivr, keys: list[IvrKey]) -> dict[str, Any]:
    return {
        "number": ivr.number,
        "keys": [{"key": k.key, "desttype": k.dest_type, "dest": k.dest} for k in keys],
        "timeoutdesttype": ivr.timeout_dest_type,
        "timeoutdest": ivr.timeout_dest,
        "invaliddesttype": ivr.invalid_dest_type,
        "invaliddest": ivr.invalid_dest,
    }
