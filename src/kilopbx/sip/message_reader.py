"""Read a SIP start line and headers, and validate what a UAS needs (RFC 3261 §7, §8.2).

Every failure is a SipParseError whose ``status`` says which response to send
(None: drop silently). A request can only be answered when its top Via and its
CSeq are readable, because the client transaction matches responses by the Via
branch and the CSeq method (§17.1.3); the other mandatory headers are copied into
the error response verbatim, so a broken From or To still gets its 400.
"""

from __future__ import annotations

from typing import Final

from kilopbx.sip.address import parse_name_addr
from kilopbx.sip.errors import HeaderValueError, SipParseError, UnsupportedUriScheme, UriParseError
from kilopbx.sip.grammar import TOKEN_RE, is_small_number
from kilopbx.sip.headers import COMPACT_FORMS, Headers, canonical_name
from kilopbx.sip.message import SIP_VERSION, SipRequest, SipResponse, Views, parse_contacts
from kilopbx.sip.uri import SipUri, parse_uri
from kilopbx.sip.via import parse_via

__all__ = ["ParsedHead", "body_length", "error_for", "finish_message", "parse_head"]

# Header names whose value must appear at most once (RFC 3261 §7.3.1 and §20).
_SINGLE_VALUED: Final = frozenset(
    ("call-id", "cseq", "from", "to", "max-forwards", "content-length")
)
_MAX_CSEQ: Final = 2**31 - 1
# What one message may make us parse, whoever sent it: authentication comes later, so
# these bound the work an anonymous datagram can cause. Generous for real traffic (an
# INVITE through a few proxies has ~40 header fields and ~100 parameters and list
# elements); a REGISTER with 1,000 Contacts or 10,000 parameters is refused unread.
MAX_HEADER_FIELDS: Final = 200
MAX_SEPARATORS_PER_FIELD: Final = 100  # ";" and "," in one header field or the request line
MAX_SEPARATORS: Final = 1000  # the same, over the whole header section
MAX_CONTACTS: Final = 32  # Contact values in a request
_NAME_CACHE_LIMIT: Final = 4096
_name_cache: Final[dict[str, tuple[str, str]]] = {}
# One string object per known method: transaction keys kept for 32 s share it.
_METHODS: Final = {
    method: method
    for method in (
        "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "SUBSCRIBE",
        "NOTIFY", "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
    )
}  # fmt: skip


def _header_key(raw_name: str) -> tuple[str, str] | None:
    """(lookup key, display name) for a raw header name, None if it is not a token."""
    cached = _name_cache.get(raw_name)
    if cached is not None:
        return cached
    if not TOKEN_RE.fullmatch(raw_name):
        return None
    display = canonical_name(raw_name)
    lowered = raw_name.lower()
    key = COMPACT_FORMS[lowered].lower() if lowered in COMPACT_FORMS else display.lower()
    entry = (key, display)
    # Bounded so that a peer inventing header names cannot grow it without limit.
    if len(_name_cache) < _NAME_CACHE_LIMIT:
        _name_cache[raw_name] = entry
    return entry


class ParsedHead:
    """Start line and headers of a message whose body has not been read yet."""

    __slots__ = (
        "_answerable",
        "cseq",
        "duplicate",
        "first",
        "headers",
        "is_request",
        "problem",
        "second",
        "third",
        "views",
    )

    def __init__(
        self, is_request: bool, first: str, second: str, third: str, headers: Headers
    ) -> None:
        self.is_request = is_request
        # Request: method, Request-URI, version. Response: version, code, reason.
        self.first = first
        self.second = second
        self.third = third
        self.headers = headers
        self.problem: str | None = None
        self.duplicate: str | None = None  # a single-valued header seen twice
        self.cseq: tuple[str, str] | None = None  # (number, method) once readable
        self._answerable: bool | None = None
        # What validation parsed, handed to the message so its views need not parse again.
        self.views: Views = {}

    @property
    def answerable(self) -> bool:
        """Are top Via and CSeq readable, so that a response can be matched?"""
        if self._answerable is None:
            self.cseq = _cseq_parts(self.headers.get("CSeq"))
            self._answerable = self.cseq is not None and _via_readable(self)
        return self._answerable


def _split_lines(text: str) -> list[str]:
    if "\r\n" in text or "\n" not in text:
        return text.split("\r\n")
    # Some broken user agents end lines with a bare LF; accepting it costs nothing.
    return text.split("\n")


def parse_head(head: bytes) -> ParsedHead:
    """Parse the start line and header fields (``head`` excludes the empty line)."""
    text = head.decode("utf-8", "surrogateescape")
    lines = _split_lines(text)
    # Few separators in the whole head (the usual case) cannot break a limit per field
    # or in total: the per-field counts are then not needed.
    few_separators = _separators(text) <= MAX_SEPARATORS_PER_FIELD
    start_line = lines[0]
    problem: str | None = None
    if start_line.startswith("SIP/"):
        parts = start_line.split(" ", 2)
        is_request = False
        if len(parts) == 2:
            parts.append("")  # "SIP/2.0 100" without SP: accepted, reason empty
        elif len(parts) != 3:
            raise SipParseError(None, "malformed status line")
    else:
        parts = start_line.split(" ")
        is_request = True
        if len(parts) != 3 or not parts[0] or not parts[1]:
            problem = "malformed request line"
            parts = [parts[0], "", SIP_VERSION]
        elif parts[0] in _METHODS:
            parts[0] = _METHODS[parts[0]]
        elif not TOKEN_RE.fullmatch(parts[0]):
            problem = "method is not a token"
        if not few_separators and _separators(parts[1]) > MAX_SEPARATORS_PER_FIELD:
            problem = problem or "too many parameters in the Request-URI"
            parts[1] = ""  # never parsed
    fields: list[tuple[str, str, str]] = []
    index: dict[str, str] = {}  # the value of each key's first line
    rebuild_index = False
    duplicate: str | None = None
    known_name = _name_cache.get
    if len(lines) > MAX_HEADER_FIELDS + 1:
        problem = problem or "too many header fields"
        del lines[MAX_HEADER_FIELDS + 1 :]
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not fields:
                problem = problem or "continuation line before the first header"
                continue
            key, display, value = fields[-1]
            value = value.rstrip()
            fields[-1] = (key, display, f"{value} {line.strip()}" if value else line.strip())
            rebuild_index = True
            continue
        raw_name, colon, value = line.partition(":")
        # A name seen before is one lookup; _header_key strips, checks and remembers it.
        entry = (known_name(raw_name) or _header_key(raw_name.rstrip(" \t"))) if colon else None
        if entry is None:
            problem = problem or f"malformed header line {line[:40]!r}"
            continue
        key = entry[0]
        value = value.strip(" \t")
        if key not in index:
            index[key] = value
        elif key in _SINGLE_VALUED:
            duplicate = duplicate or entry[1]
        fields.append((key, entry[1], value))
    if not few_separators:
        fields, too_many = _within_separator_limits(fields)
        problem = problem or too_many
        rebuild_index = rebuild_index or too_many is not None
    if rebuild_index:  # a folded line or a field left out: the rare case
        index = {}
        for key, _, value in fields:
            index.setdefault(key, value)
    headers = Headers.from_parsed(fields, index)
    parsed = ParsedHead(is_request, parts[0], parts[1], parts[2], headers)
    parsed.problem = problem
    parsed.duplicate = duplicate
    return parsed


def _separators(text: str) -> int:
    return text.count(";") + text.count(",")


def _within_separator_limits(
    fields: list[tuple[str, str, str]],
) -> tuple[list[tuple[str, str, str]], str | None]:
    """The fields without those carrying too many parameters or list elements (they are
    never parsed), and the problem to report when any was left out."""
    counts = [_separators(value) for _, _, value in fields]
    if sum(counts) <= MAX_SEPARATORS and max(counts, default=0) <= MAX_SEPARATORS_PER_FIELD:
        return fields, None
    kept: list[tuple[str, str, str]] = []
    total = 0
    for field, count in zip(fields, counts, strict=True):
        if count <= MAX_SEPARATORS_PER_FIELD and total + count <= MAX_SEPARATORS:
            total += count
            kept.append(field)
    return kept, "too many parameters or list elements in the header fields"


def body_length(head: ParsedHead) -> int | None:
    """Content-Length as an int, None when absent; SipParseError when unusable."""
    values = head.headers.get_lines("Content-Length")
    if not values:
        return None
    if len(values) > 1:
        raise error_for(head, 400, "more than one Content-Length")
    value = values[0]
    if not is_small_number(value):
        raise error_for(head, 400, f"Content-Length is not a number: {value[:20]!r}")
    return int(value)


def error_for(head: ParsedHead, status: int, reason: str, *, fatal: bool = False) -> SipParseError:
    """An error that carries the request when a response is possible, else a drop."""
    if not head.is_request or not head.answerable:
        return SipParseError(None, reason, fatal=fatal)
    request = SipRequest(head.first, head.second, head.headers, b"", head.third)
    return SipParseError(status, reason, request=request, fatal=fatal)


def _cseq_parts(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 2 or not parts[0].isascii() or not parts[0].isdigit():
        return None
    if parts[1] not in _METHODS and not TOKEN_RE.fullmatch(parts[1]):
        return None
    return parts[0], parts[1]


def _via_readable(head: ParsedHead) -> bool:
    top_via = head.headers.get("Via")
    if top_via is None:
        return False
    try:
        head.views["top_via"] = (top_via, parse_via(top_via))
    except HeaderValueError:
        return False
    return True


def _validate_common(head: ParsedHead) -> str | None:
    """Checks shared by requests and responses; returns the first problem found."""
    headers = head.headers
    if head.duplicate is not None:
        return f"more than one {head.duplicate} header"
    for name in ("Call-ID", "From", "To"):
        value = headers.get(name)
        if not value:
            return f"missing or empty {name}"
        if name != "Call-ID":
            try:
                head.views[name.lower()] = (value, parse_name_addr(value))
            except HeaderValueError as exc:
                return f"bad {name}: {exc}"
    answerable = head.answerable  # also reads the CSeq
    cseq = head.cseq
    if not answerable or cseq is None:
        return "bad CSeq or top Via"
    if not is_small_number(cseq[0]) or int(cseq[0]) > _MAX_CSEQ:
        return "CSeq number out of range"
    return None


def _validate_request(head: ParsedHead) -> tuple[int, str] | None:
    if head.problem:
        return 400, head.problem
    if head.third != SIP_VERSION:
        if head.third.startswith("SIP/"):
            return 505, f"SIP version {head.third} not supported"
        return 400, "malformed SIP-Version"
    problem = _validate_common(head)
    if problem:
        return 400, problem
    headers = head.headers
    if head.cseq is not None and head.cseq[1] != head.first:
        return 400, "CSeq method does not match the request method"
    max_forwards = headers.get("Max-Forwards")
    # A missing Max-Forwards is tolerated: RFC 2543 clients never send it (RFC 4475 inv2543).
    if max_forwards is not None and (not is_small_number(max_forwards) or int(max_forwards) > 255):
        return 400, "bad Max-Forwards"
    contacts = headers.get_all("Contact")
    if len(contacts) > MAX_CONTACTS:
        return 400, "too many Contact values"
    if contacts != ["*"]:
        try:
            head.views["contacts"] = (contacts, parse_contacts(contacts))
        except HeaderValueError as exc:
            return 400, f"bad Contact: {exc}"
    try:
        uri = parse_uri(head.second)
        head.views["request_uri"] = (head.second, uri)
    except UnsupportedUriScheme as unsupported:
        return 416, f"unsupported URI scheme {unsupported.scheme!r}"
    except UriParseError as bad_uri:
        return 400, f"bad Request-URI: {bad_uri}"
    if isinstance(uri, SipUri) and uri.headers:
        return 400, "Request-URI must not contain headers"
    return None


def finish_message(head: ParsedHead, body: bytes) -> SipRequest | SipResponse:
    """Validate a parsed head and attach its body."""
    if not head.is_request:
        return _finish_response(head, body)
    if not head.answerable:
        raise SipParseError(None, "request without a readable top Via and CSeq")
    failure = _validate_request(head)
    request = SipRequest(head.first, head.second, head.headers, body, head.third)
    request._seed_views(head.views)
    if failure is not None:
        raise SipParseError(failure[0], failure[1], request=request)
    return request


def _finish_response(head: ParsedHead, body: bytes) -> SipResponse:
    if head.first != SIP_VERSION:
        raise SipParseError(None, f"response with version {head.first!r}")
    code = head.second
    if len(code) != 3 or not code.isdigit() or not "100" <= code <= "699":
        raise SipParseError(None, f"bad status code {code[:12]!r}")
    problem = head.problem or _validate_common(head)
    if problem:
        raise SipParseError(None, problem)
    response = SipResponse(int(code), head.third, head.headers, body, head.first)
    response._seed_views(head.views)
    return response
