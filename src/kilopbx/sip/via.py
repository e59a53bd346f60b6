"""Via header values (RFC 3261 §20.42, RFC 3581 rport)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from kilopbx.sip.errors import HeaderValueError, UriParseError
from kilopbx.sip.grammar import TOKEN_CHARS, format_params, parse_params, skip_ws
from kilopbx.sip.uri import split_host_port

__all__ = ["MAGIC_COOKIE", "Via", "parse_via"]

# Branches starting with this were created by RFC 3261 compliant elements (§8.1.1.7).
MAGIC_COOKIE: Final = "z9hG4bK"


@dataclass(slots=True)
class Via:
    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    # Kept so that a request from a newer SIP version can still be answered (505).
    protocol: str = "SIP/2.0"

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        protocol: str = "SIP/2.0",
    ) -> None:
        # Written out, not left to @dataclass: its generated __init__ is interpreted
        # Python, which a compiled class pays for at every construction (docs/decisions.md).
        self.transport = transport
        self.host = host
        self.port = port
        self.params = {} if params is None else params
        self.protocol = protocol

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def received(self) -> str | None:
        return self.params.get("received")

    @property
    def rport(self) -> str | None:
        """None when absent, '' when present without a value (a request for rport)."""
        if "rport" not in self.params:
            return None
        return self.params["rport"] or ""

    @property
    def maddr(self) -> str | None:
        return self.params.get("maddr")

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def is_rfc3261_branch(self) -> bool:
        branch = self.branch
        return branch is not None and branch.startswith(MAGIC_COOKIE)

    def copy(self) -> Via:
        return Via(self.transport, self.host, self.port, dict(self.params), self.protocol)

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


def _read_token(text: str, index: int) -> tuple[str, int]:
    start = index
    length = len(text)
    while index < length and text[index] in TOKEN_CHARS:
        index += 1
    if index == start:
        raise HeaderValueError(f"expected a token in Via {text!r}")
    return text[start:index], skip_ws(text, index)


def _expect_slash(text: str, index: int) -> int:
    if index >= len(text) or text[index] != "/":
        raise HeaderValueError(f"expected '/' in Via {text!r}")
    return skip_ws(text, index + 1)


# What nearly every Via looks like: "SIP/2.0/UDP host[:port]" and its parameters.
_USUAL_VIA_RE: Final = re.compile(r"SIP/2\.0/([A-Za-z]+) ([A-Za-z0-9.\-]+(?::[0-9]+)?)(?=;|\Z)")


def parse_via(text: str) -> Via:
    """Parse one via-parm (a single element of a possibly comma-separated Via line)."""
    usual = _USUAL_VIA_RE.match(text)
    if usual is not None:
        transport, sent_by = usual.groups()
        try:
            host, port = split_host_port(sent_by)
        except UriParseError as exc:
            raise HeaderValueError(str(exc)) from exc
        return Via(transport.upper(), host, port, parse_params(text, usual.end()), "SIP/2.0")
    return _parse_any_via(text)


def _parse_any_via(text: str) -> Via:
    index = skip_ws(text, 0)
    protocol, index = _read_token(text, index)
    index = _expect_slash(text, index)
    version, index = _read_token(text, index)
    index = _expect_slash(text, index)
    transport, index = _read_token(text, index)
    if protocol.upper() != "SIP":
        raise HeaderValueError(f"unsupported Via protocol {protocol}/{version}")
    start = index
    length = len(text)
    if index < length and text[index] == "[":
        close = text.find("]", index)
        index = length if close < 0 else close + 1
    while index < length and text[index] not in "; \t":
        index += 1
    sent_by = text[start:index]
    # LWS is allowed around the ':' of sent-by.
    next_index = skip_ws(text, index)
    if next_index < length and text[next_index] == ":":
        port_start = skip_ws(text, next_index + 1)
        port_end = port_start
        while port_end < length and "0" <= text[port_end] <= "9":
            port_end += 1
        sent_by = f"{sent_by}:{text[port_start:port_end]}"
        index = port_end
    if not sent_by:
        raise HeaderValueError(f"Via without sent-by: {text!r}")
    try:
        host, port = split_host_port(sent_by)
    except UriParseError as exc:
        raise HeaderValueError(str(exc)) from exc
    params = parse_params(text, index)
    return Via(transport.upper(), host, port, params, f"SIP/{version}")
