"""The dial-pattern language of routes (31-routes.md, "Pattern language").

`0-9 * # +` literal; `X` any digit, `Z` 1-9, `N` 2-9 (any case); `[...]` one character
of a set with ranges (`[1-4]`, `[157]`); `.` one or more further characters and `!` zero
or more, both only at the end. An empty pattern matches anything (for `did` and
`caller_id`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kilopbx.core.errors import DomainError

MAX_PATTERN_LENGTH = 64
LITERALS = frozenset("0123456789*#+")
_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


@dataclass(frozen=True)
class DialPattern:
    text: str
    regex: re.Pattern[str]
    min_length: int  # the shortest number the pattern matches

    def matches(self, number: str) -> bool:
        return self.regex.fullmatch(number) is not None


def _character_set(body: str) -> str:
    """Regex class of the inside of `[...]`; ValueError when malformed."""
    if not body:
        raise ValueError("empty set")
    parts: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char not in LITERALS:
            raise ValueError(f"{char!r} in a set")
        if index + 2 < len(body) and body[index + 1] == "-":
            last = body[index + 2]
            if not (char.isdigit() and last.isdigit() and char <= last):
                raise ValueError("bad range")
            parts.append(f"{char}-{last}")
            index += 3
        else:
            parts.append(re.escape(char))
            index += 1
    return "[" + "".join(parts) + "]"


def compile_pattern(text: str, reason: str) -> DialPattern:
    """The compiled pattern, or DomainError(reason) when it is malformed."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise DomainError(reason, f"a pattern has at most {MAX_PATTERN_LENGTH} characters")
    pieces: list[str] = []
    length = 0
    index = 0
    while index < len(text):
        char = text[index]
        upper = char.upper()
        at_end = index == len(text) - 1
        if char in LITERALS:
            pieces.append(re.escape(char))
            length += 1
        elif upper in _CLASSES and char.isascii():
            pieces.append(_CLASSES[upper])
            length += 1
        elif char == "[":
            close = text.find("]", index)
            if close < 0:
                raise DomainError(reason, "unclosed [ in pattern")
            try:
                pieces.append(_character_set(text[index + 1 : close]))
            except ValueError as exc:
                raise DomainError(reason, f"bad set in pattern: {exc}") from exc
            length += 1
            index = close
        elif char in ".!" and at_end:
            pieces.append(".+" if char == "." else ".*")
            length += 1 if char == "." else 0
        else:
            raise DomainError(reason, f"{char!r} is not allowed there in a pattern")
        index += 1
    return DialPattern(text, re.compile("".join(pieces) if text else ".*", re.DOTALL), length)
