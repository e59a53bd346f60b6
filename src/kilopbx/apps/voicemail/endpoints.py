"""voicemail/query, voicemail/delete, voicemail/get_random and GET voicemail/download
(spec 60); downloads use the one-time grants shared with recordings and CDR files."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kilopbx.api.http_app import file_download
from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.cdr.downloads import DownloadGrants
from kilopbx.apps.cdr.wire import IP_NOT_ALLOWED, parse_allowed_ip
from kilopbx.apps.voicemail.service import (
    BAD_RANDOM,
    BAD_STATUS,
    NO_FILE,
    NO_SUCH_EXTENSION,
    VOICEMAIL,
)
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key

VOICEMAIL_DOWNLOADS: Key[DownloadGrants] = Key("voicemail_downloads")


@endpoint("voicemail/query", needs_body=True)
async def voicemail_query(req: Request) -> dict[str, Any]:
    boxes = await req.pbx.registry.get(VOICEMAIL).query(required(req.body, "number"))
    if not boxes:
        return {}  # spec 60: no `voicemails` key at all when there is no message
    return {
        "voicemails": [
            {
                "number": number,
                "voicemail": [
                    {
                        "voicemailfile": m.file,
                        "messagefrom": m.caller,
                        "voicemailstatus": m.status,
                        "voicemaildate": m.date_text,
                        "voicemaillength": str(m.seconds),
                    }
                    for m in messages
                ],
            }
            for number, messages in boxes
        ]
    }


@endpoint("voicemail/delete", needs_body=True)
async def voicemail_delete(req: Request) -> dict[str, Any]:
    number = required(req.body, "number")
    files = required(req.body, "voicemailfile")
    status = required(req.body, "voicemailstatus")
    await req.pbx.registry.get(VOICEMAIL).delete(number, files, status)
    return {}


@endpoint("voicemail/get_random", needs_body=True)
async def voicemail_get_random(req: Request) -> dict[str, Any]:
    number = required(req.body, "number").strip()
    file = required(req.body, "voicemailfile").strip()
    status = required(req.body, "voicemailstatus").strip()
    await req.pbx.registry.get(VOICEMAIL).downloadable(number, status, file)
    extra_ip = parse_allowed_ip(optional(req.body, "allowedip"))
    assert req.session is not None
    allowed = {req.session.client_ip} | ({extra_ip} if extra_ip else set())
    grants = req.pbx.registry.get(VOICEMAIL_DOWNLOADS)
    random = grants.issue(req.session.token, (number, status, file), allowed)
    return {"number": number, "voicemailstatus": status, "voicemailfile": file, "random": random}


@endpoint("voicemail/download", method="GET")
async def voicemail_download(req: Request) -> web.StreamResponse:
    values = {**req.body, **req.query}
    random = required(values, "random")
    number = (optional(values, "number") or optional(values, "extid") or "").strip()
    status = (optional(values, "voicemailstatus") or "").strip()
    file = (optional(values, "voicemailfile") or "").strip()
    assert req.session is not None
    grants = req.pbx.registry.get(VOICEMAIL_DOWNLOADS)
    grant = grants.redeem(random, req.session.token, (number, status, file))
    if grant is None:
        raise DomainError(BAD_RANDOM, "random string invalid, expired or used")
    if req.client_ip not in grant.allowed_ips:
        raise DomainError(IP_NOT_ALLOWED, "this address may not download")
    path = await req.pbx.registry.get(VOICEMAIL).downloadable(number, status, file)
    response = await file_download(path, file, "audio/wav")
    if response is None:  # deleted since it was checked
        raise DomainError(NO_FILE, "no such voicemail file")
    return response


map_reasons(
    {NO_SUCH_EXTENSION: "10006", BAD_STATUS: "20016", BAD_RANDOM: "20017", NO_FILE: "20018"}
)
