"""Bounded memos for the parser's pure functions of one header text.

Phones send the same URIs and host:port pairs over and over (a re-registration repeats
its Request-URI, To and Contact word for word), so the parser remembers what it made of
the last few thousand texts. A memo holds at most ``size`` entries in its current
generation; when that is full it becomes the previous generation (the one before is
forgotten) and a new one starts. A text met again is found in either and kept in the
current one, so what phones repeat survives the texts seen once: a From with a fresh
tag in every REGISTER used to fill the memo and empty it every few thousand
registrations, and the To and Contact of every phone were parsed again after each.
A flood of distinct texts costs two dictionaries of bounded size and never a lookup
that grows. Only successes are kept; a text that fails is parsed (and fails) again
each time.
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
    __slots__ = ("_entries", "_make", "_previous", "_size")

    def __init__(self, make: Callable[[str], T], size: int = DEFAULT_SIZE) -> None:
        self._make = make
        self._size = size
        self._entries: dict[str, T] = {}
        self._previous: dict[str, T] = {}

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
        made = self._previous.get(text)
        if made is None:
            made = self._make(text)
            if len(text) > MAX_KEY_LENGTH:
                return made
        if len(entries) >= self._size:
            self._previous = entries
            entries = self._entries = {}
        entries[text] = made
        return made

    def __len__(self) -> int:
        """Texts remembered, in both generations."""
        return len(self._entries) + len(self._previous)
