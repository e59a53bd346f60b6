"""Which routes could match a number, without trying them all.

A route's pattern starts with literal characters (`4402` of `4402XXX`, `9` of `9.`)
that every number it matches starts with too. `PrefixIndex` files the routes by that
literal prefix; for a number it looks up each prefix length in use (a handful of
dictionary reads) and returns the routes found, in their evaluation order, for the
full match. With 1000 routes a call tries one or two patterns instead of 1000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from kilopbx.apps.routes.patterns import LITERALS

T = TypeVar("T")


def literal_prefix(pattern: str) -> str:
    """The characters every number the pattern matches starts with."""
    for index, char in enumerate(pattern):
        if char not in LITERALS:
            return pattern[:index]
    return pattern


class PrefixIndex(Generic[T]):
    def __init__(self, entries: Sequence[tuple[str, T]]) -> None:
        """``entries``: (pattern text, item) in evaluation order."""
        self._items = [item for _, item in entries]
        self._by_prefix: dict[str, list[int]] = {}
        for position, (pattern, _) in enumerate(entries):
            self._by_prefix.setdefault(literal_prefix(pattern), []).append(position)
        self._lengths = sorted({len(prefix) for prefix in self._by_prefix})

    def __len__(self) -> int:
        return len(self._items)

    def candidates(self, number: str) -> list[T]:
        """The items whose literal prefix ``number`` starts with, in order."""
        found: list[int] = []
        lists = 0
        for length in self._lengths:
            if length > len(number):
                break
            positions = self._by_prefix.get(number[:length])
            if positions:
                found.extend(positions)
                lists += 1
        if lists > 1:
            found.sort()
        items = self._items
        return [items[position] for position in found]
