"""One event = one HTTP POST on a new connection, written with a single send (80-events §1.3).

Deployed receivers read one socket buffer and split on the first blank line, so the
request is built by hand: exact headers, no chunking, Connection: close.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from urllib.parse import quote, urlsplit


class DeliveryError(Exception):
    pass


@functools.cache
def _default_context() -> ssl.SSLContext:
    """One verifying client context for HTTPS targets: building one costs ~20 ms of CPU."""
    return ssl.create_default_context()


def build_request(url: str, body: bytes) -> tuple[str, int, bool, bytes]:
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DeliveryError(f"unusable event target {url!r}") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DeliveryError(f"unusable event target {url!r}")
    tls = parts.scheme == "https"
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError as exc:
        raise DeliveryError(f"bad port in event target {url!r}") from exc
    # the url comes from the application; keep what is already escaped, escape the rest
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=-._~?")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as unusable:
        raise DeliveryError(f"unusable host in event target {url!r}") from unusable
    host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host_header}\r\n"
        "User-Agent: WebAPI\r\n"
        "Content-Type: application/json\r\n"
        "Accept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return host, port, tls, head.encode("latin-1") + body


async def post_event(
    url: str,
    body: bytes,
    *,
    connect_timeout: float = 3.0,
    response_timeout: float = 5.0,
    ssl_context: ssl.SSLContext | None = None,
) -> int:
    """POST `body` to `url`; return the HTTP status. Raises DeliveryError on any failure."""
    host, port, tls, request = build_request(url, body)
    context = (ssl_context or _default_context()) if tls else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context), connect_timeout
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        # its traceback runs through asyncio.wait_for, whose frame holds the connecting
        # task, which holds the error: a reference cycle per failed attempt (an event
        # receiver down is retried every few seconds); only the error's text is reported
        cause = exc.with_traceback(None)
        raise DeliveryError(f"connect to {host}:{port} failed: {exc!r}") from cause
    try:
        writer.write(request)
        status_line = await asyncio.wait_for(reader.readline(), response_timeout)
    except (OSError, TimeoutError, ssl.SSLError, ValueError) as silent:
        raise DeliveryError(f"no answer from {url}: {silent!r}") from silent
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), 1.0)
    parts = status_line.split(None, 2)  # readline() stops at the stream limit (64 KiB)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not _is_status(parts[1]):
        raise DeliveryError(f"not an HTTP answer from {url}: {status_line[:80]!r}")
    return int(parts[1])


def _is_status(text: bytes) -> bool:
    # bytes.isdigit() is ASCII-only; the length bound keeps int() cheap on a hostile answer
    return len(text) == 3 and text.isdigit()
