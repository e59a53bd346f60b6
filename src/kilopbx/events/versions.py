"""Which event format a client's login version asks for (conventions §10.1,
81-events-legacy §1)."""

from __future__ import annotations

from enum import Enum


class EventFormat(Enum):
    """The three report formats a session can have."""

    V2 = "2.0.0"  # `event` key, `members` array (80-events)
    PLAIN_LEGACY = "L0"  # `action` key, parties as (possibly repeated) top-level keys
    WELL_FORMED_LEGACY = "L2"  # `action` key, parties in a `call` array

    @property
    def legacy(self) -> bool:
        return self is not EventFormat.V2


def _version_numbers(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits[:6]) if digits else 0)
    return tuple(parts)


def event_format_for(version: str) -> EventFormat:
    """Absent, `1.0.0` or `1.0.1` → L0; `1.0.2` and any later `1.x` → L2; else 2.0.0."""
    version = version.strip()
    if version == "" or version == "1":
        return EventFormat.PLAIN_LEGACY
    if not version.startswith("1."):
        return EventFormat.V2
    if _version_numbers(version) >= (1, 0, 2):
        return EventFormat.WELL_FORMED_LEGACY
    return EventFormat.PLAIN_LEGACY


def is_legacy_version(version: str) -> bool:
    """Legacy event formats for absent/1.x versions; anything else means 2.0.0."""
    return event_format_for(version).legacy
