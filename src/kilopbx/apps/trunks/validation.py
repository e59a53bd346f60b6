"""Value rules of trunk fields (30-trunks.md, "Shared value formats and validation rules").

Pure functions: each takes the wire text and returns the clean value or raises
ApiError with the field's errno. Existence checks (DOD targets, uniqueness) are the
service's job.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from kilopbx.api.errors import ApiError
from kilopbx.apps.trunks.wire_lists import has_control_characters

NAME_INVALID = "10042"
NAME_TAKEN = "10043"
TYPE_INVALID = "10044"
HOST_INVALID = "10045"
PORT_INVALID = "10046"
DOMAIN_INVALID = "10047"
USERNAME_INVALID = "10048"
USERNAME_TAKEN = "10049"
AUTHNAME_INVALID = "10050"
FROMUSER_INVALID = "10051"
PASSWORD_INVALID = "10052"
DOD_EXTENSION_UNKNOWN = "10053"
DOD_GROUP_UNKNOWN = "10054"
DOD_NUMBER_INVALID = "10055"
DOD_NUMBER_LENGTH = "10056"
DOD_NAME_INVALID = "10057"
DOD_NAME_LENGTH = "10058"
DOD_FORMAT = "10059"
TOO_MANY_TRUNKS = "10060"
DELETE_FAILED = "10061"
TRUNK_UNKNOWN = "10062"

TRUNK_TYPES = ("register", "peer", "account")
DEFAULT_PORT = 5060

_NAME_FORBIDDEN = set(" !$()/#;,[]\"=<>&'`^%@{}|")
_CREDENTIAL_FORBIDDEN = set(" ;&\"'\\<>`|")
_FROMUSER_FORBIDDEN = set(" :!$()/#;,[]\\\"=<>&'`^%@{}|")
_DOD_NAME_FORBIDDEN = set("-,;\"'\\<>`|")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_DOD_NUMBER = re.compile(r"\+?[0-9]+")
_DID_NUMBER = re.compile(r"\+?[0-9]{1,32}")
MAX_DOD_ENTRIES = 2000


def _clean(text: str, forbidden: set[str], max_length: int, errno: str) -> str:
    if not 1 <= len(text) <= max_length:
        raise ApiError(errno, f"must be 1-{max_length} characters")
    if has_control_characters(text) or any(ch in forbidden for ch in text):
        raise ApiError(errno, "contains a forbidden character")
    return text


def trunk_name(text: str) -> str:
    return _clean(text, _NAME_FORBIDDEN, 63, NAME_INVALID)


def trunk_type(text: str) -> str:
    value = text.strip().lower()
    if value not in TRUNK_TYPES:
        raise ApiError(TYPE_INVALID, "trunktype must be register, peer or account")
    return value


def is_host(text: str) -> bool:
    """IPv4, IPv6 (bare or in brackets) or a DNS host name, at most 255 characters."""
    if not 1 <= len(text) <= 255:
        return False
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        ipaddress.ip_address(bare)
        return True
    except ValueError:
        pass
    labels = text[:-1].split(".") if text.endswith(".") else text.split(".")
    return all(_HOST_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def host(text: str, errno: str = HOST_INVALID) -> str:
    value = text.strip()
    if not is_host(value):
        raise ApiError(errno, "not an IP address or host name")
    return value


def port(text: str | None) -> int:
    """Omitted or empty: the default 5060 (30-trunks.md, add notes)."""
    if text is None or text.strip() == "":
        return DEFAULT_PORT
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 5:
        raise ApiError(PORT_INVALID, "port must be 1-65535")
    number = int(value)
    if not 1 <= number <= 65535:
        raise ApiError(PORT_INVALID, "port must be 1-65535")
    return number


def username(text: str) -> str:
    return _clean(text, _CREDENTIAL_FORBIDDEN, 64, USERNAME_INVALID)


def auth_name(text: str) -> str:
    return _clean(text, _CREDENTIAL_FORBIDDEN, 64, AUTHNAME_INVALID)


def password(text: str) -> str:
    return _clean(text, _CREDENTIAL_FORBIDDEN, 64, PASSWORD_INVALID)


def from_user(text: str) -> str:
    if text == "":
        return ""
    return _clean(text, _FROMUSER_FORBIDDEN, 64, FROMUSER_INVALID)


@dataclass(frozen=True)
class DodEntry:
    number: str
    name: str
    target: str  # extension number or extension group name


def dod_entries(text: str) -> list[DodEntry]:
    """Parse "number-name-target,..." ("" = no bindings); one binding per target."""
    if text.strip() == "":
        return []
    items = text.split(",")
    if len(items) > MAX_DOD_ENTRIES:
        raise ApiError(DOD_FORMAT, f"at most {MAX_DOD_ENTRIES} DOD entries")
    entries: list[DodEntry] = []
    seen: set[str] = set()
    for item in items:
        parts = item.strip().split("-")
        if len(parts) != 3:
            raise ApiError(DOD_FORMAT, "a DOD entry is number-name-target")
        number, name, target = (part.strip() for part in parts)
        if number and not _DOD_NUMBER.fullmatch(number):
            raise ApiError(DOD_NUMBER_INVALID, "DOD number: digits with an optional +")
        if not 1 <= len(number) <= 32:
            raise ApiError(DOD_NUMBER_LENGTH, "DOD number: 1-32 characters")
        if has_control_characters(name) or any(ch in _DOD_NAME_FORBIDDEN for ch in name):
            raise ApiError(DOD_NAME_INVALID, "DOD name contains a forbidden character")
        if not 1 <= len(name) <= 31:
            raise ApiError(DOD_NAME_LENGTH, "DOD name: 1-31 characters")
        if not target or len(target) > 63 or has_control_characters(target):
            raise ApiError(DOD_FORMAT, "DOD target missing or invalid")
        if target in seen:
            raise ApiError(DOD_FORMAT, f"{target} has two DOD bindings on this trunk")
        seen.add(target)
        entries.append(DodEntry(number, name, target))
    return entries


def format_dod(entries: list[DodEntry]) -> str:
    return ",".join(f"{e.number}-{e.name}-{e.target}" for e in entries)


def did_setting(text: str) -> str:
    """Hosted-edition "dnis_name-did_number,..." list; normalised, "" when empty.

    The wire format has no errno of its own for it; a malformed list answers the DOD
    format errno 10059 (the closest meaning: trunk number data badly formatted).
    """
    if text.strip() == "":
        return ""
    entries = []
    for item in text.split(","):
        name, sep, number = item.strip().rpartition("-")
        name = name.strip()
        number = number.strip()
        valid_name = 1 <= len(name) <= 31 and not any(ch in _DOD_NAME_FORBIDDEN for ch in name)
        if not sep or not valid_name or has_control_characters(name):
            raise ApiError(DOD_FORMAT, "didsetting entry is dnis_name-did_number")
        if not _DID_NUMBER.fullmatch(number):
            raise ApiError(DOD_FORMAT, "didsetting number: digits with an optional +")
        entries.append(f"{name}-{number}")
    if len(entries) > MAX_DOD_ENTRIES:
        raise ApiError(DOD_FORMAT, f"at most {MAX_DOD_ENTRIES} didsetting entries")
    return ",".join(entries)
