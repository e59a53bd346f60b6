"""Value rules of route fields (31-routes.md) that need no database."""

from __future__ import annotations

import re

from kilopbx.apps.trunks.wire_lists import has_control_characters
from kilopbx.core.errors import DomainError

INBOUND_NAME_INVALID = "routes.inbound_name_invalid"
INBOUND_DUPLICATE = "routes.inbound_duplicate"
DID_INVALID = "routes.did_invalid"
CALLER_ID_INVALID = "routes.validation.caller_id_invalid"
INBOUND_TRUNK_UNKNOWN = "routes.inbound_trunk_unknown"
DESTTYPE_INVALID = "routes.desttype_invalid"
DEST_INVALID = "routes.dest_invalid"
TOO_MANY_INBOUND = "routes.too_many_inbound"
INBOUND_DELETE_FAILED = "routes.inbound_delete_failed"
INBOUND_UNKNOWN = "routes.inbound_unknown"
OUTBOUND_NAME_INVALID = "routes.outbound_name_invalid"
OUTBOUND_DUPLICATE = "routes.outbound_duplicate"
PREFIX_INVALID = "routes.prefix_invalid"
STRIP_INVALID = "routes.strip_invalid"
PREPEND_INVALID = "routes.prepend_invalid"
OUTBOUND_TRUNK_UNKNOWN = "routes.outbound_trunk_unknown"
EXTENSION_UNKNOWN = "routes.extension_unknown"
GROUP_UNKNOWN = "routes.group_unknown"
TOO_MANY_OUTBOUND = "routes.too_many_outbound"
OUTBOUND_DELETE_FAILED = "routes.outbound_delete_failed"
OUTBOUND_UNKNOWN = "routes.outbound_unknown"

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


def route_name(text: str, reason: str) -> str:
    """1-63 characters, no comma (names are listed comma-separated), no control chars."""
    if not 1 <= len(text) <= 63 or "," in text or has_control_characters(text):
        raise DomainError(reason, "a route name is 1-63 characters without commas")
    return text


def dest_type(text: str) -> str:
    value = text.strip().lower()
    if value not in DEST_TYPES:
        raise DomainError(DESTTYPE_INVALID, f"desttype is one of {', '.join(DEST_TYPES)}")
    return value


def strip_count(text: str, longest_allowed: int) -> int | None:
    """ "" means unset (None); otherwise 0 up to the pattern's shortest match."""
    value = text.strip()
    if value == "":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 3:
        raise DomainError(STRIP_INVALID, "strip is a whole number")
    count = int(value)
    if count > longest_allowed:
        raise DomainError(STRIP_INVALID, f"strip is at most {longest_allowed} for this prefix")
    return count


def prepend(text: str) -> str:
    value = text.strip()
    if not _PREPEND.fullmatch(value):
        raise DomainError(PREPEND_INVALID, "prepend: up to 32 of 0-9 * # +")
    return value


def extension_range(text: str) -> tuple[str, str]:
    """ "first-last" of an extrange destination: same length, first <= last."""
    found = _EXTENSION_RANGE.fullmatch(text.strip())
    if found is None:
        raise DomainError(DEST_INVALID, "extrange destination is first-last")
    first, last = found.groups()
    if len(first) != len(last) or int(first) > int(last):
        raise DomainError(DEST_INVALID, "extrange: first and last of one length, first <= last")
    return first, last
