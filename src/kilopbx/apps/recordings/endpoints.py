"""Recording endpoints: `recording/get_random` and `GET recording/download`
(60-voicemail-recording-cdr.md), and the recording policy, a KiloPBX extension
(`recording/query_settings`, `recording/update_settings`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kilopbx.api.http_app import file_download
from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.cdr.downloads import DownloadGrants
from kilopbx.apps.cdr.wire import parse_allowed_ip
from kilopbx.apps.recordings import service as recordings
from kilopbx.apps.recordings.service import KINDS, RECORDINGS
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Key
from kilopbx.engine.routing import DIRECTORY

RECORDING_DOWNLOADS: Key[DownloadGrants] = Key("recording_downloads")


@endpoint("recording/get_random", needs_body=True)
async def get_random(req: Request) -> dict[str, Any]:
    name = required(req.body, "recording").strip()
    extra_ip = parse_allowed_ip(optional(req.body, "allowedip"))
    req.pbx.registry.get(RECORDINGS).path_of(name)  # exists, complete, inside the store
    assert req.session is not None
    allowed = {req.session.client_ip} | ({extra_ip} if extra_ip else set())
    grants = req.pbx.registry.get(RECORDING_DOWNLOADS)
    random = grants.issue(req.session.token, (name,), allowed)
    return {"recording": name, "random": random}


@endpoint("recording/download", method="GET")
async def download(req: Request) -> web.StreamResponse:
    values = {**req.body, **req.query}
    random = required(values, "random")
    name = (optional(values, "recording") or "").strip()
    assert req.session is not None
    grant = req.pbx.registry.get(RECORDING_DOWNLOADS).redeem(random, req.session.token, (name,))
    if grant is None:
        raise DomainError(recordings.BAD_RANDOM, "random string invalid, expired or used")
    if req.client_ip not in grant.allowed_ips:
        raise DomainError(recordings.IP_NOT_ALLOWED, "this address may not download")
    path = req.pbx.registry.get(RECORDINGS).path_of(name)
    response = await file_download(path, name, "audio/wav")
    if response is None:  # deleted since it was checked
        raise DomainError(recordings.NO_FILE, "no such recording file")
    return response


@endpoint("recording/query_settings")
async def query_settings(req: Request) -> dict[str, Any]:
    return req.pbx.registry.get(RECORDINGS).policy.wire()


@endpoint("recording/update_settings", needs_body=True)
async def update_settings(req: Request) -> dict[str, Any]:
    values = {kind: optional(req.body, kind) for kind in KINDS}
    service = req.pbx.registry.get(RECORDINGS)
    recordings.parse_policy(values, service.policy)  # the shape first (10932)
    directory = req.pbx.registry.find(DIRECTORY)
    for number in (values["extensions"] or "").split(","):
        number = number.strip()
        if number and number != "all" and directory and directory.by_number(number) is None:
            raise DomainError(recordings.NO_EXTENSION, f"no extension {number[:16]}")
    policy = await service.update(values)
    return policy.wire()


map_reasons(
    {
        recordings.NO_FILE: "20014",
        recordings.BAD_RANDOM: "20012",
        recordings.SETTINGS_INVALID: "10932",
        recordings.NO_EXTENSION: "10006",
    }
)
