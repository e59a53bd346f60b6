"""Lexical pieces shared by the header parsers: tokens, quoted strings, parameters."""

from __future__ import annotations

import re
from typing import Final

from kilopbx.sip.errors import HeaderValueError

TOKEN_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~"
)
TOKEN_RE: Final = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# Parameter values that are not quoted: tokens, hosts and IPv6 references.
_PARAM_VALUE_RE: Final = re.compile(r"[A-Za-z0-9\-.!%*_+`'~\[\]:/]+")
# ``*( SEMI generic-param )`` without quoted values, whitespace around the separators.
_UNQUOTED_PARAMS_RE: Final = re.compile(
    r"(?:;[ \t]*[A-Za-z0-9\-.!%*_+`'~]+[ \t]*(?:=[ \t]*[A-Za-z0-9\-.!%*_+`'~\[\]:/]+)?[ \t]*)*"
)
_WHITESPACE: Final = " \t"
# Longest digit string read as a number from a header; 2**32 has 10 digits.
MAX_DIGITS: Final = 10


def is_small_number(text: str, max_digits: int = MAX_DIGITS) -> bool:
    """1..max_digits ASCII digits, safe for int(): longer strings from a peer would make
    int() raise ValueError past 4300 digits (and cost quadratic time below that)."""
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def is_token(text: str) -> bool:
    return TOKEN_RE.fullmatch(text) is not None


def skip_ws(text: str, index: int) -> int:
    length = len(text)
    while index < length and text[index] in _WHITESPACE:
        index += 1
    return index


def read_quoted(text: str, index: int) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[index] == '"'``.

    Returns the unescaped content and the index just past the closing quote.
    """
    index += 1
    close = text.find('"', index)
    if close >= 0 and text.find("\\", index, close) < 0:
        return text[index:close], close + 1  # no escapes: the common case, one slice
    out: list[str] = []
    length = len(text)
    while index < length:
        char = text[index]
        if char == "\\":
            if index + 1 >= length:
                break
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), index + 1
        out.append(char)
        index += 1
    raise HeaderValueError("unterminated quoted string")


def quote(text: str) -> str:
    """Render ``text`` as a quoted-string, escaping quotes and backslashes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, index: int = 0) -> dict[str, str | None]:
    """Parse ``*( SEMI generic-param )`` from ``text[index:]`` to the end.

    Quoted values keep their quotes so that re-serialising is lossless and the
    caller can tell ``a="b"`` from ``a=b`` where it matters.
    """
    if '"' not in text:
        return _parse_unquoted_params(text[index:])
    params: dict[str, str | None] = {}
    length = len(text)
    index = skip_ws(text, index)
    while index < length:
        if text[index] != ";":
            raise HeaderValueError(f"expected ';' at {text[index:]!r}")
        index = skip_ws(text, index + 1)
        start = index
        while index < length and text[index] in TOKEN_CHARS:
            index += 1
        name = text[start:index]
        if not name:
            raise HeaderValueError("empty parameter name")
        index = skip_ws(text, index)
        value: str | None = None
        if index < length and text[index] == "=":
            index = skip_ws(text, index + 1)
            if index < length and text[index] == '"':
                content_start = index
                _, index = read_quoted(text, index)
                value = text[content_start:index]
            else:
                start = index
                while index < length and text[index] not in " \t;":
                    index += 1
                value = text[start:index]
                if not _PARAM_VALUE_RE.fullmatch(value):
                    raise HeaderValueError(f"bad parameter value {value!r}")
            index = skip_ws(text, index)
        params[name.lower()] = value
    return params


def _parse_unquoted_params(text: str) -> dict[str, str | None]:
    """Fast path of parse_params for the usual case of no quoted values."""
    text = text.strip(" \t")
    if not text:
        return {}
    params: dict[str, str | None] = {}
    if _UNQUOTED_PARAMS_RE.fullmatch(text):
        # well-formed as a whole (one match instead of two per parameter)
        for item in text[1:].split(";"):
            name, equals, value = item.partition("=")
            params[name.strip(" \t").lower()] = value.strip(" \t") if equals else None
        return params
    return _read_unquoted_params(text)


def _read_unquoted_params(text: str) -> dict[str, str | None]:
    """Parameter by parameter, saying which one is wrong (``text`` stripped, not empty)."""
    if text[0] != ";":
        raise HeaderValueError(f"expected ';' at {text!r}")
    params: dict[str, str | None] = {}
    for item in text[1:].split(";"):
        name, equals, value = item.partition("=")
        name = name.strip(" \t")
        if not TOKEN_RE.fullmatch(name):
            raise HeaderValueError(f"bad parameter name {name!r}")
        if equals:
            value = value.strip(" \t")
            if not _PARAM_VALUE_RE.fullmatch(value):
                raise HeaderValueError(f"bad parameter value {value!r}")
            params[name.lower()] = value
        else:
            params[name.lower()] = None
    return params


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def unquote_value(value: str | None) -> str | None:
    """Strip the quotes from a parameter value kept quoted by ``parse_params``."""
    if value is not None and len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return read_quoted(value, 0)[0]
    return value
