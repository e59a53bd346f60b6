"""HTTP glue: path and method checks, CORS, body limits, JSON answers (conventions §1–§2, §9)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from kilopbx.api import errors
from kilopbx.api.router import API_PREFIX, DETAIL_KEY, MAX_BODY, RenderedJson, dispatch

if TYPE_CHECKING:
    from kilopbx.pbx import Pbx

ALLOW_METHODS = "GET, POST, OPTIONS, PUT, DELETE"


def cors_headers(origin: str | None) -> dict[str, str]:
    if origin:
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Vary": "Origin",
        }
    return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": ALLOW_METHODS}


async def file_download(path: Path, name: str, content_type: str) -> web.Response | None:
    """The answer of a file download (spec 60), the file opened before the answer
    starts: one deleted or replaced meanwhile is still sent whole as it was when
    opened. None when it cannot be opened, for the endpoint's own error (an HTTP 404
    with no JSON body would not tell the client which)."""
    try:
        handle = await asyncio.to_thread(open, path, "rb")
    except OSError:
        return None
    headers = cors_headers(None)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    headers["Content-Type"] = content_type
    return web.Response(body=handle, headers=headers)  # aiohttp closes it once sent


def header_safe(text: str, limit: int = 500) -> str:
    """Printable ASCII only: client text quoted in a detail must not break the header."""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in text[:limit])


def json_response(body: dict[str, object], origin: str | None) -> web.Response:
    headers = cors_headers(origin)
    detail = body.pop(DETAIL_KEY, None)
    if detail:
        headers["X-KiloPBX-Detail"] = header_safe(str(detail))
    return _json_bytes(json.dumps(body, separators=(",", ":")).encode(), headers)


def _json_bytes(body: bytes, headers: dict[str, str]) -> web.Response:
    resp = web.Response(body=body, content_type="application/json", headers=headers)
    resp.force_close()
    return resp


async def _read_body(request: web.BaseRequest) -> bytes | None:
    """The body, or None when it exceeds the limit (the connection is then closed)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class ApiHttpHandler:
    def __init__(self, pbx: Pbx, request_in: Callable[[object], None] | None = None) -> None:
        """``request_in(transport)`` is told when a request has fully arrived (the
        listener's guard stops counting that connection as waiting)."""
        self._pbx = pbx
        self._request_in = request_in

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        path = request.path
        if not (path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")):
            resp = web.Response(status=404, text="Not Found")
            resp.force_close()
            return resp
        if request.method == "OPTIONS":
            headers = cors_headers(origin)
            headers["Access-Control-Allow-Headers"] = "Content-Type"
            headers["Access-Control-Max-Age"] = "600"
            resp = web.Response(status=200, headers=headers)
            resp.force_close()
            return resp
        raw = await _read_body(request)
        if self._request_in is not None:
            self._request_in(request.transport)
        if raw is None:
            return json_response({"status": "Failed", "errno": errors.NOT_JSON}, origin)
        remote = request.remote or ""
        if remote.startswith("::ffff:"):
            remote = remote[7:]
        result = await dispatch(
            self._pbx,
            path if path.endswith("/") or path != API_PREFIX.rstrip("/") else API_PREFIX,
            request.method,
            dict(request.query),
            raw,
            remote,
        )
        if isinstance(result, RenderedJson):
            return _json_bytes(result.body, cors_headers(origin))
        if isinstance(result, web.StreamResponse):
            return result
        return json_response(result, origin)
