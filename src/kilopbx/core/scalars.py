"""How a scalar value arrives over the API: the wire format is lenient (conventions
§1.1), so a JSON string or number means the same, and true/false read as "yes"/"no"
(or "1"/"0" where a field says so). Validation code below the API reads values this way
too, so it lives here rather than in `kilopbx.api`."""

from __future__ import annotations

from typing import Any


def scalar_text(value: Any, *, bool_style: str = "yesno") -> str | None:
    """The string form of a scalar parameter, or None for null / non-scalars."""
    if value is None:
        return None
    if isinstance(value, bool):
        if bool_style == "01":
            return "1" if value else "0"
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None
