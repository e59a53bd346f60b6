"""extension/list's rendered answer (listing.py): byte for byte what the envelope and
`json.dumps` make of `summary_wire`, statuses merged as `compose_line_status` merges
them, entries rendered again exactly when the service's generation moves."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence

from kilopbx.apps.extensions.listing import ExtensionListing, status_ranks
from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.extensions.wire import summary_wire
from kilopbx.engine.routing import LINE_STATES, compose_line_status

# what a source may say: every status of the wire, and one no list may show
SAID = (*LINE_STATES, "Malfunction")
NAMES = [
    "Ana Costa",
    'Rui "Ruizinho" Matos',
    "back\\slash / slash",
    "Zoë Ærø 日本 😀",  # non-ASCII and a character outside the BMP (a surrogate pair)
    "tab\there\nnew line\x00nul\x7f",
    "</script><b>",
    "",
]


def extension(number: str, name: str, agent: str = "", kind: str = "SIP") -> Extension:
    return Extension(number=number, display_name=name, agent_id=agent, kind=kind)


def reference(rows: Sequence[Extension], sources: Sequence[Callable[[str], str]]) -> bytes:
    """The answer as it was made before listing.py: dict, envelope, json.dumps."""
    extlist = [summary_wire(ext, compose_line_status(sources, ext.number)) for ext in rows]
    body = {"status": "Success", "extlist": extlist}
    return json.dumps(body, separators=(",", ":")).encode()


def table_source(table: dict[str, str]) -> Callable[[str], str]:
    return lambda number: table.get(number, "Unavailable")


ROWS = [
    extension(str(2100 + i), name, agent=str(i) if i % 2 else "", kind=("SIP", "FXS", "IAX")[i % 3])
    for i, name in enumerate(NAMES)
]


def test_body_is_byte_for_byte_the_enveloped_json_dumps() -> None:
    registered = table_source({ext.number: "Registered" for ext in ROWS[::2]})
    calls = table_source({"2101": "Busy", "2102": "Hold", "2103": "Ringing", "2104": "Odd"})
    for sources in ([], [registered], [registered, calls], [calls, registered]):
        body = ExtensionListing().body(1, lambda: ROWS, sources)
        assert body == reference(ROWS, sources)


def test_no_extension_is_an_empty_list() -> None:
    assert ExtensionListing().body(1, list, []) == reference([], [])
    assert json.loads(ExtensionListing().body(1, list, [])) == {"status": "Success", "extlist": []}


def test_statuses_merge_as_compose_line_status_does() -> None:
    # every combination of what two and three sources say about one number
    for count in (1, 2, 3):
        combos = list(itertools.product(SAID, repeat=count))
        numbers = [str(1000 + i) for i in range(len(combos))]
        sources = [
            table_source({n: combo[s] for n, combo in zip(numbers, combos, strict=True)})
            for s in range(count)
        ]
        ranks = status_ranks(sources, numbers)
        assert [LINE_STATES[r] for r in ranks] == [compose_line_status(sources, n) for n in numbers]


def test_rows_are_read_again_only_when_the_generation_moves() -> None:
    listing = ExtensionListing()
    reads: list[int] = []
    rows = [extension("2101", "Ana"), extension("2102", "Rui")]

    def current() -> list[Extension]:
        reads.append(1)
        return list(rows)

    first = listing.body(7, current, [])
    rows[0] = extension("2101", "Ana Maria")  # the service would have moved the generation
    assert listing.body(7, current, []) == first
    assert len(reads) == 1
    changed = listing.body(8, current, [])
    assert json.loads(changed)["extlist"][0]["username"] == "Ana Maria"
    assert changed == reference(rows, [])
    assert len(reads) == 2


def test_a_status_change_shows_in_the_next_body() -> None:
    listing = ExtensionListing()
    live: dict[str, str] = {}
    sources = [table_source(live)]
    assert b'"Unavailable"' in listing.body(1, lambda: ROWS, sources)
    live["2100"] = "Registered"
    assert listing.body(1, lambda: ROWS, sources) == reference(ROWS, sources)
    live["2100"] = "Busy"
    assert listing.body(1, lambda: ROWS, sources) == reference(ROWS, sources)
    del live["2100"]
    assert listing.body(1, lambda: ROWS, sources) == reference(ROWS, sources)
    assert b'"Registered"' not in listing.body(1, lambda: ROWS, sources)


def test_an_unchanged_answer_is_the_same_object() -> None:
    listing = ExtensionListing()
    sources = [table_source({"2100": "Registered"})]
    assert listing.body(1, lambda: ROWS, sources) is listing.body(1, lambda: ROWS, sources)
