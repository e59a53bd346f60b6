"""Value rules of route fields (31-routes.md) that need no database."""

from __future__ import annotations

import re

from kilopbx.api.errors import ApiError
from kilopbx.apps.trunks.wire_lists import has_control_characters

INBOUND_NAME_INVALID = "10063"
INBOUND_DUPLICATE = "10064"
DID_INVALID = "10065"
CALLER_ID_INVALID = "10066"
INBOUND_TRUNK_UNKNOWN = "10067"
DESTTYPE_INVALID = "10068"
DEST_INVALID = "10069"
TOO_MANY_INBOUND = "10070"
INBOUND_DELETE_FAILED = "10071"
INBOUND_UNKNOWN = "10072"
OUTBOUND_NAME_INVALID = "10073"
OUTBOUND_DUPLICATE = "10074"
PREFIX_INVALID = "10075"
STRIP_INVALID = "10076"
PREPEND_INVALID = "10077"
OUTBOUND_TRUNK_UNKNOWN = "10078"
EXTENSION_UNKNOWN = "10079"
GROUP_UNKNOWN = "10080"
TOO_MANY_OUTBOUND = "10081"
OUTBOUND_DELETE_FAILED = "10082"
OUTBOUND_UNKNOWN = "10083"

# inbound destination types (31-routes.md, inroute/add)
DEST_TYPES = (
    "hangup",
    "extension",
    "extrange",
    "voicemail",
    "ivr",
    "ringgroup",
    "queue",
    "conference",
    "disa",
    "callback",
    "outroute",
    "faxtoemail",
)
_PREPEND = re.compile(r"[0-9*#+]{0,32}")
_EXTENSION_RANGE = re.compile(r"([0-9]{1,16})-([0-9]{1,16})")


def route_name(text: str, errno: str) -> str:
    """1-63 characters, no comma (names are listed comma-separated), no control chars."""
    if not 1 <= len(text) <= 63 or "," in text or has_control_characters(text):
        raise ApiError(errno, "a route name is 1-63 characters without commas")
    return text


def dest_type(text: str) -> str:
    value = text.strip().lower()
    if value not in DEST_TYPES:
        raise ApiError(DESTTYPE_INVALID, f"desttype is one of {', '.join(DEST_TYPES)}")
    return value


def strip_count(text: str, longest_allowed: int) -> int | None:
    """ "" means unset (None); otherwise 0 up to the pattern's shortest match."""
    value = text.strip()
    if value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        raise ApiError(STRIP_INVALID, "strip is a whole number")
    count = int(value)
    if count > longest_allowed:
        raise ApiError(STRIP_INVALID, f"strip is at most {longest_allowed} for this prefix")
    return count


def prepend(text: str) -> str:
    value = text.strip()
    if not _PREPEND.fullmatch(value):
        raise ApiError(PREPEND_INVALID, "prepend: up to 32 of 0-9 * # +")
    return value


def extension_range(text: str) -> tuple[str, str]:
    """ "first-last" of an extrange destination: same length, first <= last."""
    found = _EXTENSION_RANGE.fullmatch(text.strip())
    if found is None:
        raise ApiError(DEST_INVALID, "extrange destination is first-last")
    first, last = found.groups()
    if len(first) != len(last) or int(first) > int(last):
        raise ApiError(DEST_INVALID, "extrange: first and last of one length, first <= last")
    return first, last
