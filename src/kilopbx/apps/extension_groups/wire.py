"""Group names, member lists and id selectors as spec 22 writes them."""

from __future__ import annotations

from kilopbx.apps.extension_groups.service import INVALID, GroupView
from kilopbx.apps.extensions.selectors import parse_selector, split_list
from kilopbx.core.errors import MISSING_PARAMETER, DomainError

NAME_MAX = 63
NAME_FORBIDDEN = frozenset(",;\"'\\<>")


def parse_name(text: str) -> str:
    name = text.strip()
    if not name:
        raise DomainError(MISSING_PARAMETER, detail="name is required")
    if len(name) > NAME_MAX:
        raise DomainError(INVALID, detail=f"name: at most {NAME_MAX} characters")
    if NAME_FORBIDDEN & set(name) or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise DomainError(INVALID, detail="name: no control characters nor any of ,;\"'\\<>")
    return name


def parse_members(text: str) -> list[str]:
    return split_list(text)


def parse_id(text: str) -> int:
    """A single group id; anything that is not one answers 10004 (spec 22, Proposed)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise DomainError(MISSING_PARAMETER, detail=f"no extension group {text}")
    return int(text)


def parse_ids(text: str) -> list[int] | None:
    """None for "all"; entries that cannot be ids are unknown ids and so skipped."""
    entries = parse_selector(text)
    if entries is None:
        return None
    return [int(e) for e in entries if e.isascii() and e.isdigit() and len(e) <= 9]


def group_wire(group: GroupView) -> dict[str, str]:
    return {"id": str(group.id), "name": group.name, "members": ",".join(group.members)}


def unknown_members_wire(unknown: list[str]) -> dict[str, str]:
    """Spec 22 quirk: the reference spells the key both ways, so we send both."""
    if not unknown:
        return {}
    text = ",".join(unknown)
    return {"errnum": text, "errornum": text}
