"""extension/list's answer from entries rendered once per configuration change.

An entry's configured fields (number, type, username, agentid) change only through the
extension service, whose `generation` moves with every change of its snapshot: the
entries are rendered to JSON text when the generation moves, once for each status they
can show. Only the live field, status, is asked on each request: from every LINE_STATUS
source, one source at a time over all numbers, and merged as `compose_line_status`
merges them (the most telling status wins, an unknown one counts as "Unavailable"). The
whole body is kept too, and sent again while neither the generation nor any status has
changed. The text is what `json.dumps` makes of `summary_wire` inside the success
envelope, byte for byte (tests/unit/test_extension_listing.py holds it to that).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.extensions.wire import summary_wire
from kilopbx.engine.routing import LINE_STATES

# the separators of the API's JSON answers (kilopbx.api.http_app.json_response)
SEPARATORS = (",", ":")
HEAD = b'{"status":"Success","extlist":['
TAIL = b"]}"
RANK = {status: rank for rank, status in enumerate(LINE_STATES)}
# stands for the status while an entry is rendered; no extension number can hold it
STATUS_SLOT = "\x00status\x00"


def rendered_entries(ext: Extension) -> tuple[bytes, ...]:
    """The entry's JSON text for each status of LINE_STATES, in that order."""
    text = json.dumps(summary_wire(ext, STATUS_SLOT), separators=SEPARATORS)
    before, slot, after = text.partition(json.dumps(STATUS_SLOT))
    assert slot, "summary_wire lost the status"
    return tuple(f"{before}{json.dumps(status)}{after}".encode() for status in LINE_STATES)


def status_ranks(sources: Sequence[Callable[[str], str]], numbers: Sequence[str]) -> list[int]:
    """`compose_line_status` of every number, as ranks in LINE_STATES."""
    rank_of = RANK.get
    ranks = [0] * len(numbers)
    for source in sources:
        ranks = [
            mine if mine >= (theirs := rank_of(status, 0)) else theirs
            for mine, status in zip(ranks, map(source, numbers), strict=True)
        ]
    return ranks


class ExtensionListing:
    """The rendered entries of one extension service's snapshot, and the last body."""

    def __init__(self) -> None:
        self._generation = -1
        self._numbers: list[str] = []
        self._entries: list[tuple[bytes, ...]] = []
        self._ranks: list[int] | None = None
        self._body = b""

    def body(
        self,
        generation: int,
        rows: Callable[[], Sequence[Extension]],
        sources: Sequence[Callable[[str], str]],
    ) -> bytes:
        """The whole answer for the extensions `rows()` returns (in list order), which
        the service's `generation` names; rows are only read when it moved."""
        if generation != self._generation:
            ordered = rows()
            self._numbers = [ext.number for ext in ordered]
            self._entries = [rendered_entries(ext) for ext in ordered]
            self._ranks = None
            self._generation = generation
        ranks = status_ranks(sources, self._numbers)
        if ranks != self._ranks:
            parts = [entry[rank] for entry, rank in zip(self._entries, ranks, strict=True)]
            self._body = HEAD + b",".join(parts) + TAIL
            self._ranks = ranks
        return self._body
