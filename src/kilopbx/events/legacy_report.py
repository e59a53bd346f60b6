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
from typing import Any

from kilopbx.events.versions import EventFormat

Pairs = list[tuple[str, Any]]


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
