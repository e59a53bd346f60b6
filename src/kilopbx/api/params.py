"""Reading request parameters the lenient way the wire format needs (conventions §1.1).

Every scalar may arrive as a JSON string or number and is normalised to its string form;
true/false map to "yes"/"no" (or "1"/"0" where the field says so).
"""

from __future__ import annotations

from typing import Any

from kilopbx.api.errors import MISSING_PARAMETER, ApiError
from kilopbx.core.scalars import scalar_text

JsonObject = dict[str, Any]
__all__ = ["JsonObject", "optional", "parse_port", "required", "scalar_text"]


def optional(body: JsonObject, key: str, *, bool_style: str = "yesno") -> str | None:
    """The parameter as text, or None when absent. Non-scalars count as absent."""
    if key not in body:
        return None
    return scalar_text(body[key], bool_style=bool_style)


def required(body: JsonObject, key: str, *, bool_style: str = "yesno") -> str:
    """The parameter as text; missing, null or empty answers errno 10004."""
    value = optional(body, key, bool_style=bool_style)
    if value is None or value.strip() == "":
        raise ApiError(MISSING_PARAMETER)
    return value


def parse_port(text: str) -> int | None:
    """An integer port 1..65535 or None (callers answer 20008)."""
    text = text.strip()
    # str.isdigit() is also true for '²' or '٨', which int() rejects or reads as 8
    if not (text.isascii() and text.isdigit()) or len(text) > 5:
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None
