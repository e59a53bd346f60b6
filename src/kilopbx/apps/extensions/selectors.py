"""The `number` / `id` selectors of the wire format: one value, "a,b,c" or "all"."""

from __future__ import annotations

ALL = "all"


def split_list(text: str) -> list[str]:
    """Comma-separated entries, spaces around commas tolerated, duplicates dropped."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def parse_selector(text: str) -> list[str] | None:
    """None means every object; otherwise the distinct entries in request order."""
    if text.strip().lower() == ALL:
        return None
    return split_list(text)
