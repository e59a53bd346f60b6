"""Ordered, multi-valued, case-insensitive SIP header store."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

COMPACT_FORMS: Final[dict[str, str]] = {
    "i": "Call-ID",
    "m": "Contact",
    "f": "From",
    "t": "To",
    "v": "Via",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
}

# Spelling used on the wire for well-known names whose capitalisation is not
# simply "Title-Case" (Call-ID, CSeq, WWW-Authenticate ...).
_KNOWN_SPELLINGS: Final = [
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow",
    "Allow-Events", "Authentication-Info", "Authorization", "Call-ID", "Call-Info", "Contact",
    "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Length",
    "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From", "History-Info",
    "Identity", "In-Reply-To", "Max-Forwards", "MIME-Version", "Min-Expires", "Min-SE",
    "Organization", "P-Asserted-Identity", "P-Preferred-Identity", "Path", "Priority",
    "Privacy", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "RAck",
    "Reason", "Record-Route", "Refer-To", "Referred-By", "Reject-Contact", "Replaces",
    "Reply-To", "Request-Disposition", "Require", "Retry-After", "Route", "RSeq",
    "Server", "Service-Route", "Session-Expires", "SIP-ETag", "SIP-If-Match", "Subject",
    "Subscription-State", "Supported", "Timestamp", "To", "Unsupported", "User-Agent",
    "Via", "Warning", "WWW-Authenticate",
]  # fmt: skip
_CANONICAL: Final[dict[str, str]] = {name.lower(): name for name in _KNOWN_SPELLINGS}
_CANONICAL.update({short: long for short, long in COMPACT_FORMS.items()})

# Headers whose grammar is `header = name ":" element *("," element)`, so several
# values may share one line. Credentials, challenges and dates contain commas that
# are not separators, so they are deliberately absent.
LIST_HEADERS: Final = frozenset(
    name.lower()
    for name in (
        "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Alert-Info",
        "Allow", "Allow-Events", "Call-Info", "Contact", "Content-Encoding",
        "Content-Language", "Error-Info", "History-Info", "In-Reply-To", "P-Asserted-Identity",
        "P-Preferred-Identity", "Path", "Proxy-Require", "Reason", "Record-Route",
        "Reject-Contact", "Request-Disposition", "Require", "Route", "Service-Route",
        "Supported", "Unsupported", "Via", "Warning",
    )
)  # fmt: skip


# Lookup keys for the spellings code uses, so that get("Call-ID") skips lower().
_LOOKUP_KEYS: Final[dict[str, str]] = {}
for _name in _KNOWN_SPELLINGS:
    _LOOKUP_KEYS[_name] = _LOOKUP_KEYS[_name.lower()] = _name.lower()
for _short, _long in COMPACT_FORMS.items():
    _LOOKUP_KEYS[_short] = _LOOKUP_KEYS[_short.upper()] = _long.lower()


def canonical_name(name: str) -> str:
    """The long, conventionally spelt form of a header name (compact forms expanded)."""
    known = _CANONICAL.get(name.lower())
    if known is not None:
        return known
    return name


def _one_element(value: str) -> bool:
    """Is ``value`` (not empty) its own and only list element (``split_list_value``)?"""
    return "," not in value and not value[0].isspace() and not value[-1].isspace()


def split_list_value(value: str) -> list[str]:
    """Split a comma-separated header value, ignoring commas in quotes or <...>."""
    if "," not in value:
        stripped = value.strip()
        return [stripped] if stripped else []
    parts: list[str] = []
    start = 0
    in_quotes = False
    in_angle = False
    index = 0
    length = len(value)
    while index < length:
        char = value[index]
        if in_quotes:
            if char == "\\":
                index += 1
            elif char == '"':
                in_quotes = False
        elif char == '"':
            in_quotes = True
        elif char == "<":
            in_angle = True
        elif char == ">":
            in_angle = False
        elif char == "," and not in_angle:
            part = value[start:index].strip()
            if part:
                parts.append(part)
            start = index + 1
        index += 1
    part = value[start:].strip()
    if part:
        parts.append(part)
    return parts


# get()'s memo: "not asked yet", as opposed to None, "asked, absent".
_UNKNOWN: Final[str | None] = "\x00unknown"


class Headers:
    """Header fields in wire order; each stored line keeps its own value.

    Lookups are case-insensitive and compact names are accepted everywhere.
    """

    __slots__ = ("_fields", "_first", "_index")

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        # (lower-case canonical key, display name, value)
        self._fields: list[tuple[str, str, str]] = []
        # What get() answered per key, until the next change: the stack, the
        # transaction layer and the handlers ask for the same few headers ~20 times
        # per message.
        self._first: dict[str, str | None] = {}
        # key -> value of its first line, for every key present: set by the parser,
        # dropped at the first change (then lookups scan the lines)
        self._index: dict[str, str] | None = None
        for name, value in fields:
            self.add(name, value)

    @staticmethod
    def _key(name: str) -> str:
        known = _LOOKUP_KEYS.get(name)
        if known is not None:
            return known
        lowered = name.lower()
        if len(lowered) == 1:
            long_name = COMPACT_FORMS.get(lowered)
            if long_name is not None:
                return long_name.lower()
        return lowered

    @classmethod
    def from_parsed(
        cls, fields: list[tuple[str, str, str]], index: dict[str, str] | None = None
    ) -> Headers:
        """Adopt (lower-case key, display name, value) triples built by the parser, and
        ``index``, the value of the first line of each key in ``fields`` (every key)."""
        headers = cls()
        headers._fields = fields
        headers._first = {}
        headers._index = index
        return headers

    def fields(self) -> list[tuple[str, str, str]]:
        """The stored (lower-case key, display name, value) triples in wire order, not a
        copy: read them (to copy lines into another message), never change them."""
        return self._fields

    @staticmethod
    def field(name: str, value: str) -> tuple[str, str, str]:
        """The triple ``add(name, value)`` would store, for ``from_parsed``."""
        display = canonical_name(name)
        return display.lower(), display, value

    def add(self, name: str, value: str) -> None:
        """Append one header line."""
        display = canonical_name(name)
        self._fields.append((display.lower(), display, value))
        self._first.clear()
        self._index = None

    def set(self, name: str, value: str) -> None:
        """Replace every line of ``name`` by one line, kept at the first one's position."""
        key = self._key(name)
        display = canonical_name(name)
        self._first.clear()
        self._index = None
        for index, (field_key, _, _) in enumerate(self._fields):
            if field_key == key:
                self._fields[index] = (key, display, value)
                self._fields[index + 1 :] = [f for f in self._fields[index + 1 :] if f[0] != key]
                return
        self._fields.append((key, display, value))

    def prepend(self, name: str, value: str) -> None:
        """Insert a line before every other line (a proxy adding its Via, say)."""
        display = canonical_name(name)
        self._fields.insert(0, (display.lower(), display, value))
        self._first.clear()
        self._index = None

    def remove(self, name: str) -> None:
        """Delete every line of ``name`` (no error when absent)."""
        key = self._key(name)
        self._fields = [f for f in self._fields if f[0] != key]
        self._first.clear()
        self._index = None

    def get(self, name: str) -> str | None:
        """First value of ``name`` (the first list element for list-type headers)."""
        # Remembered under the name as asked for: a repeated question skips the key
        # computation too (callers use a handful of spellings).
        first = self._first
        found: str | None = first.get(name, _UNKNOWN)
        if found is not _UNKNOWN:
            return found
        key = _LOOKUP_KEYS.get(name) or self._key(name)
        index = self._index
        if index is not None:
            found = index.get(key)
            if found is None or (found and (key not in LIST_HEADERS or _one_element(found))):
                first[name] = found  # absent, or the whole first line is the answer
                return found
        found = None
        for field_key, _, value in self._fields:
            if field_key == key:
                if key in LIST_HEADERS:
                    elements = split_list_value(value)
                    if not elements:
                        continue
                    found = elements[0]
                    break
                found = value
                break
        first[name] = found
        return found

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order, list-type lines split into their elements."""
        key = self._key(name)
        if key in LIST_HEADERS:
            values: list[str] = []
            for field_key, _, value in self._fields:
                if field_key == key:
                    values.extend(split_list_value(value))
            return values
        return [value for field_key, _, value in self._fields if field_key == key]

    def get_lines(self, name: str) -> list[str]:
        """Raw values of every line of ``name``, without list splitting."""
        key = self._key(name)
        if self._index is not None and key not in self._index:
            return []  # absent (Require, Record-Route on most requests): no scan
        return [value for field_key, _, value in self._fields if field_key == key]

    def count_lines(self, name: str) -> int:
        key = self._key(name)
        return sum(1 for field in self._fields if field[0] == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if self._first.get(name) is not None:
            return True
        key = self._key(name)
        if self._index is not None:
            return key in self._index
        return any(field[0] == key for field in self._fields)

    def items(self) -> Iterator[tuple[str, str]]:
        """(name, value) pairs in wire order, one per stored line."""
        for _, display, value in self._fields:
            yield display, value

    def copy(self) -> Headers:
        clone = Headers()
        clone._fields = list(self._fields)
        clone._index = self._index  # never changed in place: shared until either changes
        return clone

    def __len__(self) -> int:
        return len(self._fields)

    def __iter__(self) -> Iterator[str]:
        for _, display, _ in self._fields:
            yield display

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._fields] == [(k, v) for k, _, v in other._fields]

    def __repr__(self) -> str:
        return f"Headers({list(self.items())!r})"
