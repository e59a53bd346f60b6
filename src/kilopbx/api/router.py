"""Endpoint registry and request dispatch in the validation order of conventions §4.

Feature modules register handlers with `@endpoint("queue/query")`; a handler receives a
`Request` and returns the success payload (a dict, without "status") or raises ApiError
(or a DomainError, which `kilopbx.api.reasons` maps to its errno).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kilopbx.api import errors
from kilopbx.api.errors import ApiError
from kilopbx.api.reasons import to_api_error
from kilopbx.core.errors import DomainError

if TYPE_CHECKING:
    from kilopbx.api.sessions import Session
    from kilopbx.pbx import Pbx

log = logging.getLogger(__name__)

API_PREFIX = "/api/v2.0.0/"
MAX_BODY = 1024 * 1024
# a failure's explanation travels out of band (see ApiError.detail); http_app moves it
# from the body into the X-KiloPBX-Detail header
DETAIL_KEY = "__detail__"


@dataclass
class Request:
    pbx: Pbx
    endpoint: str
    body: dict[str, Any]
    client_ip: str
    session: Session | None = None
    query: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Any]]


@dataclass(frozen=True)
class RenderedJson:
    """A success answer its handler rendered itself: the whole body as sent, "status"
    included, byte for byte what the envelope and `json.dumps` would have made of it.
    For a large answer whose parts the feature keeps rendered (extension/list)."""

    body: bytes


@dataclass(frozen=True)
class Endpoint:
    name: str
    handler: Handler
    needs_token: bool
    needs_body: bool
    method: str  # "POST", or "GET" for downloads (which also answer POST)


_ENDPOINTS: dict[str, Endpoint] = {}


def endpoint(
    name: str, *, needs_token: bool = True, needs_body: bool = False, method: str = "POST"
) -> Callable[[Handler], Handler]:
    """Register an API endpoint. `needs_body`: an empty body or {} answers 20007."""

    def register(fn: Handler) -> Handler:
        if name in _ENDPOINTS:
            raise RuntimeError(f"endpoint {name} registered twice")
        _ENDPOINTS[name] = Endpoint(name, fn, needs_token, needs_body, method)
        return fn

    return register


def registered_endpoints() -> dict[str, Endpoint]:
    return dict(_ENDPOINTS)


# Bodies up to this size get the trailing-comma second chance; real clients that copied
# the reference's `,}` example send small bodies, and the scan is Python, not C.
TRAILING_COMMA_LIMIT = 64 * 1024


def strip_trailing_commas(text: str) -> str:
    """Drop each comma that only white space separates from a closing } or ].

    One pass, linear in the length of the text; commas inside strings are kept.
    """
    out: list[str] = []
    in_string = escaped = False
    pending: int | None = None  # index in `out` of a comma not yet known to be trailing
    for ch in text:
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch in " \t\r\n":
            out.append(ch)
            continue
        if pending is not None:
            if ch in "}]":
                out[pending] = ""
            pending = None
        if ch == '"':
            in_string = True
        elif ch == ",":
            pending = len(out)
        out.append(ch)
    return "".join(out)


def parse_body(raw: bytes) -> dict[str, Any] | None:
    """The JSON object of a request body, {} for an empty body. Raises ApiError."""
    text = raw.strip()
    if not text:
        return {}
    if text.startswith(b"<"):
        raise ApiError(errors.XML_BODY)
    try:
        decoded = text.decode("utf-8-sig")
        try:
            value = json.loads(decoded)
        except json.JSONDecodeError:
            # a wire example of the reference has `,}`: accept a trailing comma (31-routes)
            if len(decoded) > TRAILING_COMMA_LIMIT:
                raise
            value = json.loads(strip_trailing_commas(decoded))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ApiError(errors.NOT_JSON) from exc
    if not isinstance(value, dict):
        raise ApiError(errors.NOT_JSON)
    return value


async def dispatch(
    pbx: Pbx,
    path: str,
    method: str,
    query: dict[str, str],
    raw_body: bytes,
    client_ip: str,
) -> Any:
    """Run one API request and return the response body (success or failure envelope, or
    a handler's RenderedJson or response object)."""
    try:
        try:
            payload = await _dispatch(pbx, path, method, query, raw_body, client_ip)
        except DomainError as refused:
            raise to_api_error(refused) from refused
    except ApiError as exc:
        failure: dict[str, Any] = {"status": "Failed", "errno": exc.errno}
        if exc.detail:
            failure[DETAIL_KEY] = exc.detail
        return failure
    except Exception:
        log.exception("internal error in %s", path)
        return {"status": "Failed", "errno": errors.DISPATCH_FAILED}
    if payload is None or isinstance(payload, dict):
        return {"status": "Success", **(payload or {})}
    return payload  # a RenderedJson, or a download endpoint's own response object


async def _dispatch(
    pbx: Pbx,
    path: str,
    method: str,
    query: dict[str, str],
    raw_body: bytes,
    client_ip: str,
) -> Any:
    name = path[len(API_PREFIX) :].strip("/")
    if not pbx.settings.api_enabled:
        raise ApiError(errors.BAD_CREDENTIALS if name == "login" else errors.API_DISABLED)
    if not pbx.api_ip_allowed(client_ip):
        raise ApiError(errors.IP_NOT_ALLOWED)
    if not name:
        raise ApiError(errors.EMPTY_REQUEST_NAME)
    ep = _ENDPOINTS.get(name)
    if ep is None:
        raise ApiError(errors.UNKNOWN_ENDPOINT)
    if method != "POST" and not (ep.method == "GET" and method in {"GET", "HEAD"}):
        raise ApiError(errors.POST_ONLY)
    if len(raw_body) > MAX_BODY:
        raise ApiError(errors.NOT_JSON)
    body = parse_body(raw_body)
    assert body is not None
    if ep.needs_body and not body:
        raise ApiError(errors.EMPTY_REQUEST)
    request = Request(pbx=pbx, endpoint=name, body=body, client_ip=client_ip, query=query)
    if ep.needs_token:
        request.session = await pbx.sessions.authenticate(query.get("token", ""))
    return await ep.handler(request)
