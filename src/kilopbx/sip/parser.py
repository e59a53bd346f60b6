"""Turn bytes into SIP messages: whole datagrams (RFC 3261 §18.3) or TCP/TLS streams.

Both entry points raise or report only SipParseError; see message_reader for the
rules that decide between answering (status set) and dropping (status None).
"""

from __future__ import annotations

from typing import Final

from kilopbx.sip.errors import SipParseError
from kilopbx.sip.message import SipRequest, SipResponse
from kilopbx.sip.message_reader import (
    ParsedHead,
    body_length,
    error_for,
    finish_message,
    parse_head,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_HEADER_BYTES",
    "KEEPALIVE_PING",
    "KeepAlivePing",
    "StreamFramer",
    "parse_message",
]

DEFAULT_MAX_HEADER_BYTES: Final = 64 * 1024
DEFAULT_MAX_BODY_BYTES: Final = 256 * 1024
_PING: Final = b"\r\n\r\n"


def _split_datagram(data: bytes) -> tuple[bytes, bytes]:
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return data[:end], data[end + 4 :]
    end = data.find(b"\n\n")
    if end >= 0 and b"\r\n" not in data[:end]:
        return data[:end], data[end + 2 :]
    # Tolerate a datagram that stops right after the last header line.
    return data.rstrip(b"\r\n"), b""


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """Parse one datagram; octets beyond Content-Length are ignored (§18.3).

    Without Content-Length the body is the rest of the datagram, as §18.3 allows
    for UDP; a Content-Length larger than what arrived is a 400.
    """
    if not data.strip():
        raise SipParseError(None, "empty datagram")
    if len(data) > DEFAULT_MAX_HEADER_BYTES + DEFAULT_MAX_BODY_BYTES:
        raise SipParseError(None, "datagram too large")
    head_bytes, rest = _split_datagram(data)
    head = parse_head(head_bytes)
    length = body_length(head)
    if length is None:
        body = rest
    elif len(rest) < length:
        raise error_for(head, 400, "Content-Length larger than the datagram")
    else:
        body = rest[:length]
    return finish_message(head, body)


class KeepAlivePing:
    """A CRLFCRLF keep-alive (RFC 5626 §4.4.1); the transport answers with one CRLF."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEPALIVE_PING"


KEEPALIVE_PING: Final = KeepAlivePing()

StreamItem = SipRequest | SipResponse | SipParseError | KeepAlivePing


class StreamFramer:
    """Cuts a byte stream into messages using the mandatory Content-Length (§18.3).

    Errors that leave the framing intact (a bad header in a message of known
    length) are reported and the stream continues. Errors that lose the framing,
    or a peer exceeding the size limits, are reported with ``fatal=True``; the
    framer then ignores further input and the transport must close the connection.
    """

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_message_size: int | None = None,
    ) -> None:
        """``max_message_size``, when given, also caps header section plus body."""
        self._max_header_bytes = max_header_bytes
        self._max_body_bytes = max_body_bytes
        if max_message_size is not None:
            self._max_header_bytes = min(max_header_bytes, max_message_size)
            self._max_body_bytes = min(max_body_bytes, max_message_size)
        self._max_message_size = max_message_size
        self._buffer = bytearray()
        self._search_from = 0
        self._head: ParsedHead | None = None
        self._body_length = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once a fatal error was reported: the connection must be closed."""
        return self._closed

    @property
    def buffered_bytes(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[StreamItem]:
        """Add received bytes; return every complete message, ping or error, in order."""
        if self._closed:
            return []
        self._buffer += data
        items: list[StreamItem] = []
        while not self._closed:
            if self._head is None and not self._read_head(items):
                break
            head = self._head
            if head is None or len(self._buffer) < self._body_length:
                break
            body = bytes(self._buffer[: self._body_length])
            del self._buffer[: self._body_length]
            self._head = None
            try:
                items.append(finish_message(head, body))
            except SipParseError as error:
                items.append(error)
        return items

    def _fail(self, items: list[StreamItem], error: SipParseError) -> bool:
        error.fatal = True
        items.append(error)
        self._closed = True
        self._buffer.clear()
        return False

    def _read_head(self, items: list[StreamItem]) -> bool:
        """Consume keep-alives and one header section; False when more data is needed."""
        buffer = self._buffer
        while buffer.startswith(b"\r\n"):
            if buffer.startswith(_PING):
                del buffer[:4]
                items.append(KEEPALIVE_PING)
            elif len(buffer) < 4 and _PING.startswith(buffer):
                return False  # maybe the first half of a ping
            else:
                del buffer[:2]  # a pong, or the CRLF §7.5 allows before a message
        if not buffer:
            return False
        end = buffer.find(b"\r\n\r\n", self._search_from)
        if end < 0:
            if len(buffer) > self._max_header_bytes:
                return self._fail(items, SipParseError(None, "header section too large"))
            self._search_from = max(0, len(buffer) - 3)
            return False
        self._search_from = 0
        if end > self._max_header_bytes:
            return self._fail(items, SipParseError(None, "header section too large"))
        head_bytes = bytes(buffer[:end])
        del buffer[: end + 4]
        try:
            head = parse_head(head_bytes)
            length = body_length(head)
        except SipParseError as error:
            return self._fail(items, error)
        if length is None:
            return self._fail(items, error_for(head, 400, "Content-Length is required on streams"))
        too_long = self._max_message_size is not None and end + 4 + length > self._max_message_size
        if length > self._max_body_bytes or too_long:
            return self._fail(items, error_for(head, 413, "message too large"))
        self._head = head
        self._body_length = length
        return True
