"""login, token/refresh, heartbeat, logout (spec 10-auth-system.md)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from kilopbx.api import errors
from kilopbx.api.errors import ApiError
from kilopbx.api.params import optional, parse_port, required
from kilopbx.api.router import Request, endpoint
from kilopbx.api.sessions import DEFAULT_EVENT_PORT

MAX_URL = 512


def password_digest(plain: str) -> str:
    return hashlib.md5(plain.encode("utf-8")).hexdigest()


def _port_or_fail(text: str) -> int:
    port = parse_port(text)
    if port is None:
        raise ApiError(errors.INVALID_PORT)
    return port


def _url_or_fail(text: str) -> str:
    if len(text) > MAX_URL:
        raise ApiError(errors.NOT_JSON)
    return text.strip()


@endpoint("login", needs_token=False, needs_body=True)
async def login(req: Request) -> dict[str, Any]:
    pbx = req.pbx
    username = required(req.body, "username")
    password = required(req.body, "password")
    await pbx.lockout.check(req.client_ip)
    expected_user = pbx.settings.api_username
    expected_digest = password_digest(pbx.api_password)
    user_ok = hmac.compare_digest(username.encode(), expected_user.encode())
    pass_ok = hmac.compare_digest(password.strip().lower().encode(), expected_digest.encode())
    if not (user_ok and pass_ok):
        await pbx.lockout.failed(req.client_ip)
        raise ApiError(errors.BAD_CREDENTIALS)
    port_text = optional(req.body, "port")
    port = DEFAULT_EVENT_PORT if port_text in (None, "") else _port_or_fail(port_text)
    url = _url_or_fail(optional(req.body, "url") or "")
    urltag = "1" if (optional(req.body, "urltag", bool_style="01") or "").strip() == "1" else "0"
    version = (optional(req.body, "version") or "").strip() or "1.0.0"
    await pbx.lockout.succeeded(req.client_ip)
    session = await pbx.sessions.create(
        req.client_ip, port=port, url=url, urltag=urltag, version=version
    )
    return {
        "token": session.token,
        "refreshtoken": session.refresh_token,
        "transport": pbx.settings.report_method,
    }


@endpoint("token/refresh", needs_token=False)
async def token_refresh(req: Request) -> dict[str, Any]:
    refresh = optional(req.body, "refreshtoken")
    if not refresh:
        raise ApiError(errors.TOKEN_MISSING)
    await req.pbx.lockout.check(req.client_ip)
    try:
        session = await req.pbx.sessions.refresh(refresh)
    except ApiError as exc:
        if exc.errno == errors.NO_SUCH_TOKEN:
            await req.pbx.lockout.failed(req.client_ip)
        raise
    return {"token": session.token, "refreshtoken": session.refresh_token}


@endpoint("heartbeat")
async def heartbeat(req: Request) -> None:
    session = req.session
    assert session is not None
    body = req.body
    port_text = optional(body, "port")
    new_port = None if port_text in (None, "") else _port_or_fail(port_text)
    ipaddr = (optional(body, "ipaddr") or "").strip()
    url = optional(body, "url")
    urltag = optional(body, "urltag", bool_style="01")
    if urltag is None:
        urltag = optional(body, "urlflag", bool_style="01")
    version = (optional(body, "version") or "").strip()
    changed = False
    if ipaddr:
        session.client_ip, changed = ipaddr, True
    if new_port is not None:
        session.port, changed = new_port, True
    if url is not None:
        session.url, changed = _url_or_fail(url), True
    if urltag is not None:
        session.urltag, changed = ("1" if urltag.strip() == "1" else "0"), True
    if version:
        session.version, changed = version, True
    if changed:
        try:
            await req.pbx.sessions.save_target(session)
        except Exception as exc:
            raise ApiError(errors.HEARTBEAT_STORE_FAILED) from exc
        req.pbx.events.session_target_changed(session)


@endpoint("logout")
async def logout(req: Request) -> None:
    assert req.session is not None
    await req.pbx.sessions.end(req.session)
