"""Comma lists and the multi-id selector ("23", "23,24", "all") of the wire format."""

from __future__ import annotations

# ids larger than this cannot exist (they would overflow the database's integers)
MAX_ID = 2**31 - 1


def split_list(text: str) -> list[str]:
    """Items of a comma list, whitespace around commas tolerated, empty items dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_id_selector(text: str) -> list[int] | None:
    """None for "all"; otherwise the distinct ids in the order given.

    Items that cannot be ids (not decimal, zero, too large) are dropped: they name
    nothing, exactly like an id that does not exist.
    """
    if text.strip().lower() == "all":
        return None
    ids: list[int] = []
    for item in split_list(text):
        if not item.isascii() or not item.isdigit() or len(item) > 10:
            continue
        value = int(item)
        if 0 < value <= MAX_ID and value not in ids:
            ids.append(value)
    return ids


def parse_single_id(text: str) -> int | None:
    """The id of an update request, or None when it cannot name anything."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def has_control_characters(text: str) -> bool:
    return any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)
