"""SIP request/response data model, serialiser and RFC 3261 §8.2.6 response builder."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from kilopbx.sip.address import NameAddr, parse_name_addr
from kilopbx.sip.errors import HeaderValueError
from kilopbx.sip.grammar import is_small_number
from kilopbx.sip.headers import Headers
from kilopbx.sip.random_pool import random_hex
from kilopbx.sip.uri import AbsoluteUri, SipUri, TelUri, parse_any_uri
from kilopbx.sip.via import Via, parse_via

__all__ = [
    "REASON_PHRASES",
    "SIP_VERSION",
    "MissingHeader",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "make_response",
    "new_tag",
    "reason_phrase",
]

SIP_VERSION: Final = "SIP/2.0"

REASON_PHRASES: Final[dict[int, str]] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
    433: "Anonymity Disallowed", 436: "Bad Identity-Info", 437: "Unsupported Certificate",
    438: "Invalid Identity Header", 439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}  # fmt: skip

_CLASS_REASONS: Final = {1: "Trying", 2: "OK", 3: "Redirection", 4: "Client Error",
                  5: "Server Error", 6: "Global Failure"}  # fmt: skip


def reason_phrase(status: int) -> str:
    """Default reason phrase; unknown codes get their class's generic phrase."""
    return REASON_PHRASES.get(status) or _CLASS_REASONS.get(status // 100, "Unknown")


class MissingHeader(HeaderValueError):
    """A header the caller asked for is not in the message."""


_T = TypeVar("_T")
# view name -> (the raw header text it was parsed from, the parsed value)
Views = dict[str, tuple[Any, Any]]


def _parse_int(name: str, value: str) -> int:
    value = value.strip()
    if not is_small_number(value):
        raise HeaderValueError(f"{name} is not a number: {value[:20]!r}")
    return int(value)


def _parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2:
        raise HeaderValueError(f"bad CSeq {parts!r}")
    number = _parse_int("CSeq", parts[0])
    if number >= 2**31:
        raise HeaderValueError("CSeq number out of range")
    return number, parts[1]


def _parse_expires(value: str) -> int:
    return _parse_int("Expires", value)


def _parse_vias(values: list[str]) -> list[Via]:
    return [parse_via(value) for value in values]


def parse_contacts(values: list[str]) -> list[NameAddr]:
    """Contact elements (``Headers.get_all("Contact")``, not ``*``) as addresses."""
    return [parse_name_addr(value) for value in values]


class SipMessage:
    """Typed views over the headers every SIP message shares.

    Each view is parsed once and remembered together with the raw header text it came
    from; an access compares that text with the current header (a lookup, no parse)
    and parses again only when it differs. So the views always reflect the headers,
    however they were changed, and the parser hands over what it already parsed while
    validating. Parsed values are shared between accesses: treat them as read-only
    (``copy()`` a Via or build a new NameAddr to change one); lists are fresh copies.
    """

    __slots__ = ()
    headers: Headers
    body: bytes
    _views: Views | None

    def _require(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise MissingHeader(f"missing {name}")
        return value

    def _view(self, name: str, raw: Any, parse: Callable[[Any], _T]) -> _T:
        views = self._views
        if views is None:
            # the slot is declared by the dataclass subclasses, which mypy cannot see here
            views = self._views = {}  # type: ignore[misc]
        else:
            known = views.get(name)
            if known is not None and known[0] == raw:
                value: _T = known[1]
                return value
        value = parse(raw)
        views[name] = (raw, value)
        return value

    def _seed_views(self, views: Views) -> None:
        """Adopt views parsed from these very headers (by the parser, while validating)."""
        self._views = views  # type: ignore[misc]  # (the subclasses' slot, as above)

    @property
    def call_id(self) -> str:
        return self._require("Call-ID").strip()

    @property
    def cseq(self) -> tuple[int, str]:
        """(sequence number, method) from CSeq."""
        return self._view("cseq", self._require("CSeq"), _parse_cseq)

    @property
    def from_(self) -> NameAddr:
        return self._view("from", self._require("From"), parse_name_addr)

    @property
    def to(self) -> NameAddr:
        return self._view("to", self._require("To"), parse_name_addr)

    @property
    def vias(self) -> list[Via]:
        return list(self._view("vias", self.headers.get_all("Via"), _parse_vias))

    @property
    def top_via(self) -> Via | None:
        value = self.headers.get("Via")
        return None if value is None else self._view("top_via", value, parse_via)

    @property
    def is_wildcard_contact(self) -> bool:
        """True for ``Contact: *`` (remove all bindings in a REGISTER)."""
        values = self.headers.get_all("Contact")
        return len(values) == 1 and values[0] == "*"

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact addresses; empty for ``Contact: *`` (see is_wildcard_contact)."""
        values = self.headers.get_all("Contact")
        if values == ["*"]:
            return []
        return list(self._view("contacts", values, parse_contacts))

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        return None if value is None else self._view("expires", value, _parse_expires)

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else _parse_int("Max-Forwards", value)

    @property
    def content_type(self) -> str | None:
        """Media type of the body in lower case, without parameters."""
        value = self.headers.get("Content-Type")
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower()

    def _start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Serialise with CRLF line ends and a Content-Length matching the body."""
        length_line = f"Content-Length: {len(self.body)}"
        lines = [self._start_line()]
        append = lines.append
        length_written = False
        for key, name, value in self.headers.fields():
            if key != "content-length":
                append(f"{name}: {value}")
            elif not length_written:  # keep its place, fix its value
                append(length_line)
                length_written = True
        if not length_written:
            append(length_line)
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body


@dataclass(slots=True, eq=True)
class SipRequest(SipMessage):
    method: str
    uri: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION
    _views: Views | None = field(default=None, init=False, repr=False, compare=False)

    def __init__(
        self, method: str, uri: str, headers: Headers, body: bytes = b"", version: str = SIP_VERSION
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.version = version
        self._views = None

    @property
    def request_uri(self) -> SipUri | TelUri | AbsoluteUri:
        return self._view("request_uri", self.uri, parse_any_uri)

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"


@dataclass(slots=True, eq=True)
class SipResponse(SipMessage):
    status: int
    reason: str
    headers: Headers
    body: bytes = b""
    version: str = SIP_VERSION
    _views: Views | None = field(default=None, init=False, repr=False, compare=False)

    def __init__(
        self,
        status: int,
        reason: str,
        headers: Headers,
        body: bytes = b"",
        version: str = SIP_VERSION,
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.version = version
        self._views = None

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    def _start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"


def new_tag() -> str:
    """A fresh From/To tag (§19.3: at least 32 bits of randomness)."""
    return random_hex(6)


def _has_tag(request: SipRequest) -> bool:
    try:
        return request.to.tag is not None
    except HeaderValueError:
        # Answering a request whose To is unreadable (a 400): leave To untouched.
        return True


# Copied from a request into its responses (§8.2.6.2), in this order after the Vias.
_COPIED_KEYS: Final = ("from", "to", "call-id", "cseq")


def make_response(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra_headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """Build a response to ``request`` per RFC 3261 §8.2.6.

    Via lines, From, To, Call-ID and CSeq are copied in order; ``to_tag`` is added
    to To unless it already has a tag (a request within a dialog). Timestamp is
    echoed on 100 Trying (§8.2.6.1).
    """
    # The request's own lines, not re-parsed nor re-rendered: every Via line in order,
    # then the first From, To, Call-ID and CSeq lines.
    fields: list[tuple[str, str, str]] = []
    copied: dict[str, tuple[str, str, str]] = {}
    timestamp: tuple[str, str, str] | None = None
    for line in request.headers.fields():
        key = line[0]
        if key == "via":
            fields.append(line)
        elif key in _COPIED_KEYS:
            copied.setdefault(key, line)
        elif key == "timestamp" and timestamp is None:
            timestamp = line
    for key in _COPIED_KEYS:
        found = copied.get(key)
        if found is None:
            continue
        if key == "to" and to_tag is not None and not _has_tag(request):
            found = ("to", "To", f"{found[2]};tag={to_tag}")
        fields.append(found)
    if status == 100 and timestamp is not None:
        fields.append(timestamp)
    field = Headers.field
    fields.extend(field(name, value) for name, value in extra_headers)
    headers = Headers.from_parsed(fields)
    return SipResponse(status, reason or reason_phrase(status), headers, body)
