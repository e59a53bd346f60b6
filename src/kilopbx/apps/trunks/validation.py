"""Value rules of trunk fields (30-trunks.md, "Shared value formats and validation rules").

Pure functions: each takes the wire text and returns the clean value or raises
DomainError with the field's reason. Existence checks (DOD targets, uniqueness) are the
service's job.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from kilopbx.apps.trunks.wire_lists import has_control_characters
from kilopbx.core.errors import DomainError

NAME_INVALID = "trunks.name_invalid"
NAME_TAKEN = "trunks.name_taken"
TYPE_INVALID = "trunks.type_invalid"
HOST_INVALID = "trunks.host_invalid"
PORT_INVALID = "trunks.port_invalid"
DOMAIN_INVALID = "trunks.domain_invalid"
USERNAME_INVALID = "trunks.username_invalid"
USERNAME_TAKEN = "trunks.username_taken"
AUTHNAME_INVALID = "trunks.authname_invalid"
FROMUSER_INVALID = "trunks.fromuser_invalid"
PASSWORD_INVALID = "trunks.password_invalid"
DOD_EXTENSION_UNKNOWN = "trunks.dod_extension_unknown"
DOD_GROUP_UNKNOWN = "trunks.dod_group_unknown"
DOD_NUMBER_INVALID = "trunks.dod_number_invalid"
DOD_NUMBER_LENGTH = "trunks.dod_number_length"
DOD_NAME_INVALID = "trunks.dod_name_invalid"
DOD_NAME_LENGTH = "trunks.dod_name_length"
DOD_FORMAT = "trunks.dod_format"
TOO_MANY_TRUNKS = "trunks.too_many_trunks"
DELETE_FAILED = "trunks.delete_failed"
TRUNK_UNKNOWN = "trunks.trunk_unknown"

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


def _clean(text: str, forbidden: set[str], max_length: int, reason: str) -> str:
    if not 1 <= len(text) <= max_length:
        raise DomainError(reason, f"must be 1-{max_length} characters")
    if has_control_characters(text) or any(ch in forbidden for ch in text):
        raise DomainError(reason, "contains a forbidden character")
    return text


def trunk_name(text: str) -> str:
    return _clean(text, _NAME_FORBIDDEN, 63, NAME_INVALID)


def trunk_type(text: str) -> str:
    value = text.strip().lower()
    if value not in TRUNK_TYPES:
        raise DomainError(TYPE_INVALID, "trunktype must be register, peer or account")
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


def host(text: str, reason: str = HOST_INVALID) -> str:
    value = text.strip()
    if not is_host(value):
        raise DomainError(reason, "not an IP address or host name")
    return value


def port(text: str | None) -> int:
    """Omitted or empty: the default 5060 (30-trunks.md, add notes)."""
    if text is None or text.strip() == "":
        return DEFAULT_PORT
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 5:
        raise DomainError(PORT_INVALID, "port must be 1-65535")
    number = int(value)
    if not 1 <= number <= 65535:
        raise DomainError(PORT_INVALID, "port must be 1-65535")
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
        raise DomainError(DOD_FORMAT, f"at most {MAX_DOD_ENTRIES} DOD entries")
    entries: list[DodEntry] = []
    seen: set[str] = set()
    for item in items:
        parts = item.strip().split("-")
        if len(parts) != 3:
            raise DomainError(DOD_FORMAT, "a DOD entry is number-name-target")
        number, name, target = (part.strip() for part in parts)
        if number and not _DOD_NUMBER.fullmatch(number):
            raise DomainError(DOD_NUMBER_INVALID, "DOD number: digits with an optional +")
        if not 1 <= len(number) <= 32:
            raise DomainError(DOD_NUMBER_LENGTH, "DOD number: 1-32 characters")
        if has_control_characters(name) or any(ch in _DOD_NAME_FORBIDDEN for ch in name):
            raise DomainError(DOD_NAME_INVALID, "DOD name contains a forbidden character")
        if not 1 <= len(name) <= 31:
            raise DomainError(DOD_NAME_LENGTH, "DOD name: 1-31 characters")
        if not target or len(target) > 63 or has_control_characters(target):
            raise DomainError(DOD_FORMAT, "DOD target missing or invalid")
        if target in seen:
            raise DomainError(DOD_FORMAT, f"{target} has two DOD bindings on this trunk")
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
            raise DomainError(DOD_FORMAT, "didsetting entry is dnis_name-did_number")
        if not _DID_NUMBER.fullmatch(number):
            raise DomainError(DOD_FORMAT, "didsetting number: digits with an optional +")
        entries.append(f"{name}-{number}")
    if len(entries) > MAX_DOD_ENTRIES:
        raise DomainError(DOD_FORMAT, f"at most {MAX_DOD_ENTRIES} didsetting entries")
    return ",".join(entries)
