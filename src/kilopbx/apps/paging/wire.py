"""Paging groups on the wire (spec 51-paging.md): request parsing and query shapes."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from kilopbx.apps.paging.models import PagingGroup
from kilopbx.apps.ring_groups.values import (
    YES_NO,
    invalid,
    parse_number_list,
    parse_room_name,
    parse_yes_no,
    split_list,
    switch_field,
    text_field,
    yes_no,
)

NO_SUCH_EXTENSION = "paging.no_such_extension"
GROUP_MISSING = "paging.group_missing"
NUMBER_IN_USE = "paging.number_in_use"
INVALID_VALUE = "paging.invalid_value"

PAGING = "paging"
INTERCOM = "intercom"
MULTICAST = "multicast"
TYPES = (PAGING, INTERCOM, MULTICAST)
DEFAULT_MULTICAST_PORT = 5566
MAX_MEMBERS = 100
MAX_GROUPS = 50
MULTICAST_ADDRESS = re.compile(r"([0-9]{1,3}(?:\.[0-9]{1,3}){3})(?::([0-9]{1,5}))?")
EXTENSION_GROUP_NAME = re.compile(r"[^,;\"'\\<>\x00-\x1f]{1,63}")


@dataclass
class PagingChanges:
    """What a request sends. The type-specific fields stay raw text until the service
    knows the group's type: fields of the other type are ignored (spec 51, Proposed)."""

    name: str | None = None
    kind: str | None = None
    member_text: str | None = None
    member_group_text: str | None = None
    dial_to_answer_text: str | None = None
    multicast_text: str | None = None


@dataclass
class MemberSettings:
    members: list[str] | None = None
    member_groups: list[str] | None = None
    dial_to_answer: bool | None = None


def parse_type(text: str) -> str:
    lowered = text.strip().lower()
    if lowered not in TYPES:
        raise invalid(INVALID_VALUE, "type", text, f"must be one of {TYPES}")
    return lowered


def parse_multicast_address(text: str) -> str:
    """'A.B.C.D[:port]' in 224.0.0.0/4 with an even port 1024-65535 (default 5566)."""
    match = MULTICAST_ADDRESS.fullmatch(text.strip())
    if match is None:
        raise invalid(INVALID_VALUE, "multicastip", text, "must be A.B.C.D or A.B.C.D:port")
    try:
        address = ipaddress.IPv4Address(match.group(1))
    except ValueError as exc:
        raise invalid(INVALID_VALUE, "multicastip", text, "not an IPv4 address") from exc
    if not address.is_multicast:
        raise invalid(INVALID_VALUE, "multicastip", text, "not a multicast address")
    port = int(match.group(2)) if match.group(2) else DEFAULT_MULTICAST_PORT
    if not 1024 <= port <= 65535 or port % 2:
        raise invalid(INVALID_VALUE, "multicastip", text, "port must be even, 1024-65535")
    return f"{address}:{port}"


def parse_member_groups(text: str) -> list[str]:
    names = split_list(text)
    for name in names:
        if not EXTENSION_GROUP_NAME.fullmatch(name):
            raise invalid(INVALID_VALUE, "membergroup", name, "is not an extension group name")
    return names


def parse_changes(body: dict[str, Any]) -> PagingChanges:
    changes = PagingChanges()
    if (text := text_field(body, "name")) is not None:
        changes.name = parse_room_name(text, INVALID_VALUE)
    if (text := text_field(body, "type")) is not None:
        changes.kind = parse_type(text)
    changes.member_text = text_field(body, "member")
    changes.member_group_text = text_field(body, "membergroup")
    changes.dial_to_answer_text = switch_field(body, "enabledialtoanswer", YES_NO)
    text = text_field(body, "multicastip")
    changes.multicast_text = text if text is None or text.strip() else None
    return changes


def parse_member_settings(changes: PagingChanges) -> MemberSettings:
    """The paging/intercom fields of a request, checked for form."""
    settings = MemberSettings()
    if changes.member_text is not None:
        settings.members = parse_number_list(
            changes.member_text,
            NO_SUCH_EXTENSION,
            "member",
            limit=MAX_MEMBERS,
            limit_reason=INVALID_VALUE,
        )
    if changes.member_group_text is not None:
        settings.member_groups = parse_member_groups(changes.member_group_text)
    if changes.dial_to_answer_text is not None:
        text = changes.dial_to_answer_text
        settings.dial_to_answer = parse_yes_no(text, INVALID_VALUE, "enabledialtoanswer")
    return settings


def render(group: PagingGroup, members: list[str], member_groups: list[str]) -> dict[str, str]:
    answer = {"number": group.number, "name": group.name, "type": group.kind}
    if group.kind == MULTICAST:
        answer["multicastip"] = group.multicast_address
    else:
        answer["member"] = ",".join(members)
        answer["membergroup"] = ",".join(member_groups)
        answer["enabledialtoanswer"] = yes_no(group.dial_to_answer)
    return answer
