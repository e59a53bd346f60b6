"""name-addr / addr-spec values of From, To, Contact, Route and friends (RFC 3261 §20.10)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from kilopbx.sip.errors import HeaderValueError, UriParseError
from kilopbx.sip.grammar import (
    TOKEN_CHARS,
    format_params,
    parse_params,
    quote,
    read_quoted,
    skip_ws,
)
from kilopbx.sip.memo import Memo
from kilopbx.sip.uri import AbsoluteUri, SipUri, TelUri, parse_any_uri

__all__ = ["NameAddr", "parse_name_addr"]

AnyUri = SipUri | TelUri | AbsoluteUri


@dataclass(slots=True)
class NameAddr:
    """An address with optional display name; ``params`` are the header's, not the URI's."""

    display_name: str | None
    uri: AnyUri
    params: dict[str, str | None] = field(default_factory=dict)

    def __init__(
        self, display_name: str | None, uri: AnyUri, params: dict[str, str | None] | None = None
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.display_name = display_name
        self.uri = uri
        self.params = {} if params is None else params

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        return NameAddr(self.display_name, self.uri, {**self.params, "tag": tag})

    def __str__(self) -> str:
        display = "" if self.display_name is None else quote(self.display_name) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"


def _read_display_tokens(text: str, index: int) -> tuple[str, int]:
    """Read ``*(token LWS)`` up to the '<' that must follow it."""
    end = text.find("<", index)
    if end < 0:
        raise HeaderValueError("display name without <uri>")
    words = text[index:end].split()
    for word in words:
        # Non-ASCII letters are not token characters, but phones send unquoted
        # UTF-8 names ("Jürgen <sip:...>") often enough that refusing them hurts.
        if not all(char in TOKEN_CHARS or char > "\x7f" for char in word):
            raise HeaderValueError(f"display name word {word!r} is not a token")
    return " ".join(words), end


def _angle_before_params(text: str, index: int) -> bool:
    # Words before a '<' can only be a display name; a '<' after ';' belongs to a
    # quoted parameter value of an addr-spec instead.
    angle = text.find("<", index)
    semicolon = text.find(";", index)
    return angle >= 0 and (semicolon < 0 or angle < semicolon)


def parse_name_addr(text: str) -> NameAddr:
    """Parse ``[display-name] <URI> *(;param)`` or ``addr-spec *(;param)``.

    Each call returns an address of its own (callers may change its parameters); the
    parse itself is remembered, since a dialog repeats its From and To word for word
    in every message (about 16 of them per call through the B2BUA).
    """
    made = _parse_name_addr_memo.get(text)
    return NameAddr(made.display_name, _uri_copy(made.uri), dict(made.params))


def _uri_copy(uri: AnyUri) -> AnyUri:
    if isinstance(uri, SipUri):
        return SipUri(
            uri.scheme, uri.user, uri.password, uri.host, uri.port, dict(uri.params),
            dict(uri.headers),
        )  # fmt: skip
    if isinstance(uri, TelUri):
        return TelUri(uri.number, dict(uri.params), uri.scheme)
    return AbsoluteUri(uri.scheme, uri.opaque)


def _parse_name_addr(text: str) -> NameAddr:
    index = skip_ws(text, 0)
    length = len(text)
    if index >= length:
        raise HeaderValueError("empty address")
    display_name: str | None = None
    if text[index] == '"':
        display_name, index = read_quoted(text, index)
        index = skip_ws(text, index)
        if index >= length or text[index] != "<":
            raise HeaderValueError("quoted display name must be followed by <uri>")
    elif text[index] != "<" and _angle_before_params(text, index):
        words, index = _read_display_tokens(text, index)
        display_name = words or None
    try:
        if text[index] == "<":
            close = text.find(">", index)
            if close < 0:
                raise HeaderValueError("missing '>'")
            uri = parse_any_uri(text[index + 1 : close])
            params = parse_params(text, close + 1)
        else:
            # addr-spec form: the URI cannot contain ';' here, so what follows the
            # first ';' are header parameters (RFC 3261 §20.10).
            end = index
            while end < length and text[end] not in "; \t":
                end += 1
            uri_text = text[index:end]
            if any(char in uri_text for char in ",?"):
                raise HeaderValueError("addr-spec with ',' or '?' must be enclosed in <>")
            uri = parse_any_uri(uri_text)
            params = parse_params(text, end)
    except UriParseError as exc:
        raise HeaderValueError(str(exc)) from exc
    return NameAddr(display_name, uri, params)


_parse_name_addr_memo: Final = Memo(_parse_name_addr)
