"""Checks a UAS makes on a new request before any application sees it (RFC 3261 §8.2.2,
§16.3): extensions it requires that we lack (420), hop counts used up (483), and an
INVITE that could not make a dialog (400: no From tag, not exactly one Contact).

Sans-IO: a request in, a verdict out; the stack sends the answer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from kilopbx.sip.headers import split_list_value
from kilopbx.sip.message import SipRequest

# Requests that cannot be rejected for their Require header (§8.2.2.3).
NO_REQUIRE_CHECK: Final = frozenset({"ACK", "CANCEL"})
# Requests a B2BUA passes on to another hop, so a Max-Forwards of 0 means a loop.
# REGISTER and OPTIONS are answered here; in-dialog requests are regenerated per leg.
NOT_FORWARDED: Final = frozenset({"REGISTER", "OPTIONS", "ACK", "CANCEL"})
# What a 420 echoes of a hostile Require header is bounded (it may go to a forged source).
MAX_UNSUPPORTED_LISTED: Final = 16
MAX_OPTION_TAG: Final = 64


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    reason: str | None = None  # None: the status's usual phrase


def unsupported_options(request: SipRequest, supported: Collection[str]) -> list[str]:
    """Option tags in Require that are not in ``supported`` (compared case-insensitively)."""
    lines = request.headers.get_lines("Require")
    if not lines:  # the common case, on the REGISTER hot path
        return []
    required: list[str] = []
    for line in lines:
        required.extend(tag.strip() for tag in split_list_value(line))
    known = {tag.lower() for tag in supported}
    missing = [tag for tag in required if tag and tag.lower() not in known]
    return list(dict.fromkeys(missing))


def check_new_request(request: SipRequest, supported: Collection[str]) -> Rejection | None:
    """None when the request may go on to its handler, else the answer it gets.

    Raises HeaderValueError for a Max-Forwards that is not a number (the caller
    treats it like any unreadable header).
    """
    method = request.method
    if method not in NO_REQUIRE_CHECK:
        missing = unsupported_options(request, supported)
        if missing:
            listed = [tag for tag in missing if len(tag) <= MAX_OPTION_TAG]
            if not listed:
                return Rejection(420)
            unsupported = ", ".join(listed[:MAX_UNSUPPORTED_LISTED])
            return Rejection(420, (("Unsupported", unsupported),))
    if method not in NOT_FORWARDED and request.to.tag is None:
        if request.max_forwards == 0:
            return Rejection(483)
        if method == "INVITE":
            return _undialogable(request)
    return None


def _undialogable(request: SipRequest) -> Rejection | None:
    """§8.1.1.8, §12.1: an INVITE needs a From tag and exactly one Contact (SIP URI)."""
    if not request.from_.tag:
        return Rejection(400, reason="Missing From tag")
    contacts = request.contacts
    if len(contacts) != 1 or not str(contacts[0].uri).lower().startswith(("sip:", "sips:")):
        return Rejection(400, reason="Bad Contact")
    return None
