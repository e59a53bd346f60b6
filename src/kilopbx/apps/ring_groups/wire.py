"""Ring groups on the wire (KiloPBX extension, see docs/api-extensions/groups.md):
reading requests into typed changes and rendering stored groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kilopbx.apps.ring_groups.destinations import parse_route_type
from kilopbx.apps.ring_groups.models import RingGroup
from kilopbx.apps.ring_groups.values import (
    invalid,
    parse_int,
    parse_number_list,
    parse_room_name,
    text_field,
)

RING_GROUP_MISSING = "ring_groups.ring_group_missing"
INVALID_VALUE = "ring_groups.invalid_value"
NUMBER_IN_USE = "ring_groups.number_in_use"
NO_SUCH_EXTENSION = "ring_groups.no_such_extension"

STRATEGIES = ("ringall", "sequential", "rrmemory", "random")
RING_TIMEOUT_RANGE = (5, 300)
MAX_MEMBERS = 100


@dataclass
class RingGroupChanges:
    name: str | None = None
    strategy: str | None = None
    ring_timeout: int | None = None
    members: list[str] | None = None
    failover_type: str | None = None
    failover_value: str | None = None


def parse_changes(body: dict[str, Any]) -> RingGroupChanges:
    """Every field sent, checked for form (existence is checked by the service)."""
    changes = RingGroupChanges()
    if (text := text_field(body, "name")) is not None:
        changes.name = parse_room_name(text, INVALID_VALUE)
    if (text := text_field(body, "strategy")) is not None:
        strategy = text.strip().lower()
        if strategy not in STRATEGIES:
            raise invalid(INVALID_VALUE, "strategy", text, f"must be one of {STRATEGIES}")
        changes.strategy = strategy
    if (text := text_field(body, "ringtimeout")) is not None:
        changes.ring_timeout = parse_int(text, INVALID_VALUE, "ringtimeout", *RING_TIMEOUT_RANGE)
    if (text := text_field(body, "members")) is not None:
        changes.members = parse_number_list(text, INVALID_VALUE, "members", limit=MAX_MEMBERS)
    if (text := text_field(body, "failoverdesttype")) is not None:
        changes.failover_type = parse_route_type(text, INVALID_VALUE, "failoverdesttype")
    if (text := text_field(body, "failoverdest")) is not None:
        changes.failover_value = text
    return changes


def render(group: RingGroup, members: list[str]) -> dict[str, str]:
    return {
        "number": group.number,
        "name": group.name,
        "strategy": group.strategy,
        "members": ",".join(members),
        "ringtimeout": str(group.ring_timeout),
        "failoverdesttype": group.failover_type,
        "failoverdest": group.failover_dest,
    }
