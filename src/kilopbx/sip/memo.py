"""Bounded memos for the parser's pure functions of one header text.

Phones send the same URIs and host:port pairs over and over (a re-registration repeats
its Request-URI, To and Contact word for word), so the parser remembers what it made of
the last few thousand texts. A memo holds at most ``size`` entries and forgets all of
them when full: a flood of distinct texts costs one dictionary of bounded size and
never a lookup that grows. Only successes are kept; a text that fails is parsed (and
fails) again each time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, Generic, TypeVar

T = TypeVar("T")

DEFAULT_SIZE: Final = 4096
# Longer texts are not remembered: they are rare, and would make the memo's memory
# depend on what a sender chooses to put in them.
MAX_KEY_LENGTH: Final = 256


class Memo(Generic[T]):
    __slots__ = ("_entries", "_make", "_size")

    def __init__(self, make: Callable[[str], T], size: int = DEFAULT_SIZE) -> None:
        self._make = make
        self._size = size
        self._entries: dict[str, T] = {}

    def __call__(self, text: str) -> T:
        return self.get(text)

    def get(self, text: str) -> T:
        """``make(text)``, remembered. Compiled callers call this rather than the memo
        itself: a direct call, where calling the object goes through Python's protocol
        (a tuple of arguments, parsed)."""
        entries = self._entries
        found = entries.get(text)
        if found is not None:
            return found
        made = self._make(text)
        if len(text) <= MAX_KEY_LENGTH:
            if len(entries) >= self._size:
                entries.clear()
            entries[text] = made
        return made

    def __len__(self) -> int:
        return len(self._entries)
