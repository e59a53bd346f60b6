"""Legacy reports as ordered key/value pairs, and their two encodings (L0 and L2).

A legacy report cannot be a dict: in the plain legacy format (L0) the party objects are
top-level keys and a key repeats when two parties have the same type (81-events-legacy
§1.1). So a report keeps its parts apart (keys before the parties, the parties, keys
after them) and is serialised pair by pair. The well-formed format (L2) puts the same
parties into one `call` array at the same position; everything else is identical.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

Pairs = list[tuple[str, Any]]


class EventFormat(Enum):
    """The three report formats a session can have (81-events-legacy §1)."""

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


@dataclass(frozen=True)
class LegacyReport:
    """One legacy report: `action`, then `head` pairs, the parties, then `tail` pairs.

    `contained` parties go into the `call` array in L2 (top-level keys in L0); reports
    whose parties stay top-level in both formats (`CallFailed`) set it to False.
    """

    action: str
    head: Pairs = field(default_factory=list)
    parties: Pairs = field(default_factory=list)
    tail: Pairs = field(default_factory=list)
    contained: bool = True

    def pairs(self, fmt: EventFormat, serial: str) -> Pairs:
        out: Pairs = [("action", self.action), *self.head]
        if self.parties and self.contained and fmt is EventFormat.WELL_FORMED_LEGACY:
            out.append(("call", [{kind: party} for kind, party in self.parties]))
        else:
            out.extend(self.parties)
        out.extend(self.tail)
        out.append(("sn", serial))
        return out

    def encode(self, fmt: EventFormat, serial: str) -> str:
        return encode_pairs(self.pairs(fmt, serial))


def encode_pairs(pairs: Pairs) -> str:
    """Compact JSON object from ordered pairs; repeated keys are kept, in order."""
    items = (
        json.dumps(key) + ":" + json.dumps(value, separators=(",", ":")) for key, value in pairs
    )
    return "{" + ",".join(items) + "}"


def encode_body(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))
