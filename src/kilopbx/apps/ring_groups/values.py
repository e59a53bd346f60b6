"""Lenient reading of configuration values shared by the group features (IVR, queues,
ring groups, conference rooms, paging groups, wake-up calls).

Every parser takes the wire text (already normalised by `kilopbx.core.scalars`) and either
returns a real Python value or raises `DomainError` with the reason its caller passes in, so
each feature keeps its own error number (10018 for IVRs, 10019 for queues, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from kilopbx.core.errors import MISSING_PARAMETER, DomainError
from kilopbx.core.scalars import scalar_text

# dialable numbers of group objects: ASCII digits only, like extensions (at most 7)
NUMBER_PATTERN = re.compile(r"[0-9]{1,7}")
# names of IVRs and queues: 1-31 characters, none of these, no blanks
IVR_QUEUE_NAME_FORBIDDEN = frozenset("!$()/#;,[]\"=<>&'`^%@{}| ")
IVR_QUEUE_NAME_MAX = 31
# names of conference rooms and paging groups (and our ring groups)
ROOM_NAME_FORBIDDEN = frozenset("&'<>`|$]\\\"")
ROOM_NAME_MAX = 63
# file names of prompts: no path, no control characters
PROMPT_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")

SWITCH_ON = "on"
SWITCH_OFF = "off"


def shown(text: str) -> str:
    """Client text fit for a detail header: a number as is, anything else quoted and
    cut short, so control characters and floods never reach the header."""
    if NUMBER_PATTERN.fullmatch(text):
        return text
    quoted = repr(text if len(text) <= 40 else text[:40] + "...")
    return quoted if len(quoted) <= 60 else quoted[:57] + "..."


def invalid(reason: str, field: str, value: str, why: str) -> DomainError:
    """A DomainError for a bad value, with a readable (and bounded) detail."""
    return DomainError(reason, detail=f"{field} {shown(value)}: {why}")


def parse_number(text: str, reason: str, field: str = "number") -> str:
    number = text.strip()
    if not NUMBER_PATTERN.fullmatch(number):
        raise invalid(reason, field, text, "must be 1-7 digits")
    return number


def parse_int(text: str, reason: str, field: str, low: int, high: int) -> int:
    stripped = text.strip()
    if not re.fullmatch(r"[0-9]{1,9}", stripped):
        raise invalid(reason, field, text, f"must be a whole number {low}-{high}")
    value = int(stripped)
    if not low <= value <= high:
        raise invalid(reason, field, text, f"must be {low}-{high}")
    return value


def parse_choice(text: str, reason: str, field: str, allowed: Iterable[int]) -> int:
    allowed_set = sorted(set(allowed))
    value = parse_int(text, reason, field, allowed_set[0], allowed_set[-1])
    if value not in allowed_set:
        raise invalid(reason, field, text, f"must be one of {allowed_set}")
    return value


def parse_switch(text: str, reason: str, field: str, *, words: tuple[str, str]) -> bool:
    """'on'/'off' (or 'yes'/'no', given in `words` as (true, false)), any case."""
    lowered = text.strip().lower()
    if lowered == words[0]:
        return True
    if lowered == words[1]:
        return False
    raise invalid(reason, field, text, f"must be {words[0]} or {words[1]}")


ON_OFF = (SWITCH_ON, SWITCH_OFF)
YES_NO = ("yes", "no")


def parse_on_off(text: str, reason: str, field: str) -> bool:
    return parse_switch(text, reason, field, words=(SWITCH_ON, SWITCH_OFF))


def parse_yes_no(text: str, reason: str, field: str) -> bool:
    return parse_switch(text, reason, field, words=("yes", "no"))


def on_off(flag: bool) -> str:
    return SWITCH_ON if flag else SWITCH_OFF


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def parse_name(
    text: str, reason: str, field: str, *, forbidden: frozenset[str], max_length: int
) -> str:
    if not 1 <= len(text) <= max_length:
        raise invalid(reason, field, text, f"must be 1-{max_length} characters")
    bad = sorted({ch for ch in text if ch in forbidden or not ch.isprintable()})
    if bad:
        raise invalid(reason, field, text, f"contains forbidden characters {''.join(bad)!r}")
    return text


def parse_ivr_queue_name(text: str, reason: str, field: str) -> str:
    return parse_name(
        text, reason, field, forbidden=IVR_QUEUE_NAME_FORBIDDEN, max_length=IVR_QUEUE_NAME_MAX
    )


def parse_room_name(text: str, reason: str, field: str = "name") -> str:
    if text.strip() != text:
        raise invalid(reason, field, text, "must not start or end with blanks")
    return parse_name(text, reason, field, forbidden=ROOM_NAME_FORBIDDEN, max_length=ROOM_NAME_MAX)


def parse_prompt(text: str, reason: str, field: str) -> str:
    """A prompt file name, or "none"/"" for no prompt (stored as "")."""
    stripped = text.strip()
    if stripped.lower() in {"", "none"}:
        return ""
    if not PROMPT_PATTERN.fullmatch(stripped) or ".." in stripped:
        raise invalid(reason, field, text, "is not a prompt file name")
    return stripped


def split_list(text: str) -> list[str]:
    """A comma list without blanks around items, empty items and duplicates, in order."""
    seen: dict[str, None] = {}
    for item in text.split(","):
        item = item.strip()
        if item:
            seen.setdefault(item, None)
    return list(seen)


def parse_number_list(
    text: str, reason: str, field: str, *, limit: int = 1000, limit_reason: str | None = None
) -> list[str]:
    numbers = [parse_number(item, reason, field) for item in split_list(text)]
    if len(numbers) > limit:
        raise invalid(limit_reason or reason, field, text, f"at most {limit} entries")
    return numbers


def parse_selector(text: str, reason: str, field: str = "number") -> list[str] | None:
    """`"all"` (None) or a comma list of numbers; a malformed entry can match nothing."""
    if text.strip() == "all":
        return None
    items = split_list(text)
    if not items:
        raise DomainError(MISSING_PARAMETER)
    return [item for item in items if NUMBER_PATTERN.fullmatch(item)]


def numeric_order(number: str) -> tuple[int, str]:
    return (int(number) if number.isascii() and number.isdigit() else 0, number)


MALFORMED = "\x00"  # never valid: every parser refuses control characters


def text_field(body: dict[str, Any], key: str) -> str | None:
    """A scalar field as text; an object, array or true/false counts as malformed."""
    if key not in body:
        return None
    value = body[key]
    if isinstance(value, bool):
        return MALFORMED
    text = scalar_text(value)
    if text is None and value is not None:
        return MALFORMED
    return text


def switch_field(body: dict[str, Any], key: str, words: tuple[str, str]) -> str | None:
    """Like text_field, but JSON true/false stand for the switch's two words
    (conventions §1.1: booleans are accepted where a yes/no-style string is expected)."""
    value = body.get(key)
    if isinstance(value, bool):
        return words[0] if value else words[1]
    return text_field(body, key)


def number_or_alias(body: dict[str, Any], alias: str) -> str | None:
    """`number`, or its v1.1 alias (`ivrid`, `queueid`) when `number` is absent."""
    if "number" in body:
        return text_field(body, "number")
    return text_field(body, alias)


def required_text(text: str | None) -> str:
    """A field that must be sent and not blank (else 10004), without surrounding blanks."""
    if text is None or not text.strip():
        raise DomainError(MISSING_PARAMETER)
    return text.strip()
