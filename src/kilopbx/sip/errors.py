"""Errors raised by the sans-IO SIP core."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kilopbx.sip.message import SipRequest


class SipParseError(Exception):
    """A message that could not be parsed.

    ``status`` is the 4xx/5xx response the receiver should send back, or None when
    no response is possible (the message is to be dropped silently, for example a
    malformed response or a request whose Via/Call-ID/CSeq cannot be read).
    ``fatal`` tells a stream transport that the byte stream is no longer in sync
    and the connection must be closed. ``request`` is the request as far as it
    could be read whenever ``status`` is set, so the transport can build the
    error response with ``make_response(error.request, error.status)``.
    """

    def __init__(
        self,
        status: int | None,
        reason: str,
        *,
        fatal: bool = False,
        request: SipRequest | None = None,
    ) -> None:
        super().__init__(f"{status or 'drop'}: {reason}")
        self.status = status
        self.reason = reason
        self.fatal = fatal
        self.request = request

    def __repr__(self) -> str:
        return f"SipParseError(status={self.status!r}, reason={self.reason!r})"


class UriParseError(ValueError):
    """A URI that does not follow its scheme's grammar."""


class UnsupportedUriScheme(UriParseError):
    """A URI with a scheme this stack cannot route (answered with 416 in a Request-URI)."""

    def __init__(self, scheme: str) -> None:
        super().__init__(f"unsupported URI scheme {scheme!r}")
        self.scheme = scheme


class HeaderValueError(ValueError):
    """A header value that does not follow its grammar (bad Via, name-addr, ...)."""
