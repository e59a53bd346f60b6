"""SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) and RFC 3261 URI equality."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote

from kilopbx.sip.errors import UnsupportedUriScheme, UriParseError
from kilopbx.sip.memo import Memo

__all__ = [
    "AbsoluteUri",
    "SipUri",
    "TelUri",
    "UnsupportedUriScheme",
    "UriParseError",
    "bare_host",
    "hosts_equal",
    "parse_any_uri",
    "parse_uri",
    "uri_equal",
]

_ESCAPED: Final = r"%[0-9A-Fa-f]{2}"
_UNRESERVED: Final = r"A-Za-z0-9\-_.!~*'()"
_USER_RE: Final = re.compile(rf"(?:[{_UNRESERVED}&=+$,;?/]|{_ESCAPED})+")
_PASSWORD_RE: Final = re.compile(rf"(?:[{_UNRESERVED}&=+$,]|{_ESCAPED})*")
_PARAM_RE: Final = re.compile(rf"(?:[{_UNRESERVED}\[\]/:&+$]|{_ESCAPED})+")
_HNAME_RE: Final = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESCAPED})+")
_HVALUE_RE: Final = re.compile(rf"(?:[{_UNRESERVED}\[\]/?:+$]|{_ESCAPED})*")
# Underscore is not legal in hostnames, but it shows up in real deployments
# (Docker service names) so it is tolerated.
_HOSTNAME_RE: Final = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-_.]*[A-Za-z0-9.])?")
# [0-9], not \d: \d also matches non-ASCII digits such as '٥', which int() accepts
_IPV4_RE: Final = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_TEL_NUMBER_RE: Final = re.compile(r"[0-9A-Fa-f*#+\-.()]+")

# Characters that may stay unescaped in the user part when serialising.
_USER_SAFE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,;?/"
)
_PASSWORD_SAFE: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.!~*'()&=+$,"
)

# Parameters that must match when present in either URI (RFC 3261 §19.1.4).
_SIGNIFICANT_PARAMS: Final = ("user", "ttl", "method", "maddr", "transport")


def _unescape(text: str) -> str:
    # surrogateescape keeps bytes that are not UTF-8 so re-escaping restores them.
    return unquote(text, errors="surrogateescape") if "%" in text else text


def _escape(text: str, safe: frozenset[str]) -> str:
    if all(char in safe for char in text):
        return text
    out: list[str] = []
    for char in text:
        if char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def bare_host(host: str) -> str:
    """Host without IPv6 brackets, ready for a socket address."""
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _normalised_host(host: str) -> str:
    inner = bare_host(host)
    if inner != host or ":" in inner:
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            return inner.lower()
    return host.lower().rstrip(".")


def hosts_equal(first: str, second: str) -> bool:
    """Compare hosts case-insensitively, with IPv6 references in canonical form."""
    return _normalised_host(first) == _normalised_host(second)


def _validate_host(host: str) -> None:
    if host.startswith("["):
        if not host.endswith("]"):
            raise UriParseError(f"unterminated IPv6 reference {host!r}")
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError as exc:
            raise UriParseError(f"bad IPv6 reference {host!r}") from exc
        return
    if _IPV4_RE.fullmatch(host):
        if any(int(octet) > 255 for octet in host.split(".")):
            raise UriParseError(f"bad IPv4 address {host!r}")
        return
    if not _HOSTNAME_RE.fullmatch(host):
        raise UriParseError(f"bad host {host!r}")


def split_host_port(text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 references in brackets) and validate both parts."""
    return _split_host_port_memo.get(text)


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UriParseError(f"unterminated IPv6 reference in {text!r}")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UriParseError(f"junk after IPv6 reference in {text!r}")
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_or_empty = text.partition(":")
        port_text = port_text_or_empty if colon else None
    _validate_host(host)
    if port_text is None:
        return host, None
    if not _PORT_RE.fullmatch(port_text) or int(port_text) > 65535:
        raise UriParseError(f"bad port in {text!r}")
    return host, int(port_text)


_split_host_port_memo: Final = Memo(_split_host_port)


def parse_params(text: str, validator: re.Pattern[str] = _PARAM_RE) -> dict[str, str | None]:
    """Parse ``;name[=value]`` pairs (``text`` without the leading ';')."""
    params: dict[str, str | None] = {}
    for item in text.split(";"):
        name, equals, value = item.partition("=")
        if not validator.fullmatch(name) or (equals and not validator.fullmatch(value)):
            raise UriParseError(f"bad URI parameter {item!r}")
        params[name.lower()] = value if equals else None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(
        f";{name}" if value is None else f";{name}={value}" for name, value in params.items()
    )


@dataclass(slots=True)
class SipUri:
    """A sip: or sips: URI. ``user`` and ``password`` are stored unescaped."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __init__(
        self,
        scheme: str = "sip",
        user: str | None = None,
        password: str | None = None,
        host: str = "",
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = {} if params is None else params
        self.headers = {} if headers is None else headers

    @property
    def transport(self) -> str | None:
        value = self.params.get("transport")
        return value.lower() if value else None

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def loose_route(self) -> bool:
        return "lr" in self.params

    @property
    def host_port(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def copy(self) -> SipUri:
        return SipUri(
            self.scheme, self.user, self.password, self.host, self.port,
            dict(self.params), dict(self.headers),
        )  # fmt: skip

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(_escape(self.user, _USER_SAFE))
            if self.password is not None:
                parts.append(":" + _escape(self.password, _PASSWORD_SAFE))
            parts.append("@")
        parts.append(self.host_port)
        if self.params:
            parts.append(format_params(self.params))
        if self.headers:
            parts.append("?" + "&".join(f"{k}={v}" for k, v in self.headers.items()))
        return "".join(parts)


@dataclass(slots=True)
class TelUri:
    """A tel: URI (RFC 3966); ``number`` keeps its visual separators."""

    number: str
    params: dict[str, str | None] = field(default_factory=dict)
    scheme: str = "tel"

    @property
    def is_global(self) -> bool:
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators, as used for comparison and routing."""
        return "".join(ch for ch in self.number if ch not in "-.()")

    def __str__(self) -> str:
        return f"tel:{self.number}{format_params(self.params)}"


@dataclass(slots=True)
class AbsoluteUri:
    """A URI of a scheme this stack does not interpret (mailto:, http:, urn: ...)."""

    scheme: str
    opaque: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


def _parse_sip(scheme: str, rest: str) -> SipUri:
    user: str | None = None
    password: str | None = None
    # '@' cannot appear unescaped after the userinfo, while the user part itself
    # may hold '?' and ';' (RFC 4475 intmeth), so the userinfo is split off first.
    at = rest.find("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        user_text, colon, password_text = userinfo.partition(":")
        if not _USER_RE.fullmatch(user_text):
            raise UriParseError(f"bad user part {user_text!r}")
        user = _unescape(user_text)
        if colon:
            if not _PASSWORD_RE.fullmatch(password_text):
                raise UriParseError("bad password part")
            password = _unescape(password_text)
    headers: dict[str, str] = {}
    rest, question, header_text = rest.partition("?")
    if question:
        for item in header_text.split("&"):
            name, _, value = item.partition("=")
            if not _HNAME_RE.fullmatch(name) or not _HVALUE_RE.fullmatch(value):
                raise UriParseError(f"bad URI header {item!r}")
            headers[name] = value
    host_port, semicolon, param_text = rest.partition(";")
    host, port = split_host_port(host_port)
    params = parse_params(param_text) if semicolon else {}
    return SipUri(scheme, user, password, host, port, params, headers)


def _parse_tel(rest: str) -> TelUri:
    number, semicolon, param_text = rest.partition(";")
    if not _TEL_NUMBER_RE.fullmatch(number):
        raise UriParseError(f"bad telephone number {number!r}")
    return TelUri(number, parse_params(param_text) if semicolon else {})


def parse_uri(text: str) -> SipUri | TelUri:
    """Parse a sip:, sips: or tel: URI; other schemes raise UnsupportedUriScheme.
    Each call returns a URI of its own (callers may change its parameters)."""
    uri = _parse_uri_memo.get(text)
    if type(uri) is SipUri:
        return SipUri(
            uri.scheme, uri.user, uri.password, uri.host, uri.port, dict(uri.params),
            dict(uri.headers),
        )  # fmt: skip
    assert isinstance(uri, TelUri)
    return TelUri(uri.number, dict(uri.params), uri.scheme)


def _parse_uri(text: str) -> SipUri | TelUri:
    scheme, colon, rest = text.partition(":")
    if not colon or not scheme:
        raise UriParseError(f"URI without scheme: {text!r}")
    lowered = scheme.lower()
    if lowered in ("sip", "sips"):
        return _parse_sip(lowered, rest)
    if lowered == "tel":
        return _parse_tel(rest)
    if not scheme[0].isalpha() or not all(ch.isalnum() or ch in "+-." for ch in scheme):
        raise UriParseError(f"bad URI scheme in {text!r}")
    raise UnsupportedUriScheme(lowered)


_parse_uri_memo: Final = Memo(_parse_uri)

_ABSOLUTE_REST_RE: Final = re.compile(r"[A-Za-z0-9\-_.!~*'()%;?:@&=+$,/\[\]]+")


def parse_any_uri(text: str) -> SipUri | TelUri | AbsoluteUri:
    """Like parse_uri, but keeps URIs of other schemes opaque instead of failing."""
    try:
        return parse_uri(text)
    except UnsupportedUriScheme as exc:
        rest = text.partition(":")[2]
        if not _ABSOLUTE_REST_RE.fullmatch(rest):
            raise UriParseError(f"bad URI {text!r}") from exc
        return AbsoluteUri(exc.scheme, rest)


def _param_value(value: str | None) -> str | None:
    return None if value is None else _unescape(value).lower()


def _params_equal(first: dict[str, str | None], second: dict[str, str | None]) -> bool:
    for name in _SIGNIFICANT_PARAMS:
        if (name in first) != (name in second):
            return False
    for name, value in first.items():
        if name in second and _param_value(value) != _param_value(second[name]):
            return False
    return True


def _headers_equal(first: dict[str, str], second: dict[str, str]) -> bool:
    def normalise(headers: dict[str, str]) -> dict[str, str]:
        return {_unescape(k).lower(): _unescape(v) for k, v in headers.items()}

    return normalise(first) == normalise(second)


def uri_equal(first: SipUri | TelUri | AbsoluteUri, second: SipUri | TelUri | AbsoluteUri) -> bool:
    """URI equivalence per RFC 3261 §19.1.4 (and RFC 3966 §4 for tel URIs)."""
    if isinstance(first, AbsoluteUri) or isinstance(second, AbsoluteUri):
        return (
            isinstance(first, AbsoluteUri)
            and isinstance(second, AbsoluteUri)
            and first.scheme == second.scheme
            and _unescape(first.opaque) == _unescape(second.opaque)
        )
    if isinstance(first, TelUri) or isinstance(second, TelUri):
        if not (isinstance(first, TelUri) and isinstance(second, TelUri)):
            return False
        if (
            first.digits.lower() != second.digits.lower()
            or first.params.keys() != second.params.keys()
        ):
            return False
        return all(
            _param_value(v) == _param_value(second.params[k]) for k, v in first.params.items()
        )
    return (
        first.scheme == second.scheme
        and first.user == second.user
        and first.password == second.password
        and hosts_equal(first.host, second.host)
        and first.port == second.port
        and _params_equal(first.params, second.params)
        and _headers_equal(first.headers, second.headers)
    )
