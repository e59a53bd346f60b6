"""cdr/get_random and the cdr/download file it grants (60-voicemail-recording-cdr.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kilopbx.api.errors import ApiError
from kilopbx.api.http_app import cors_headers
from kilopbx.api.params import optional, required
from kilopbx.api.reasons import map_reasons
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.cdr import wire
from kilopbx.apps.cdr.downloads import CDR_DOWNLOADS
from kilopbx.apps.cdr.export import spool_csv_file
from kilopbx.apps.cdr.service import CDR
from kilopbx.apps.cdr.wire import (
    BAD_RANDOM,
    IP_NOT_ALLOWED,
    NO_RECORDS,
    parse_allowed_ip,
    parse_numbers,
    parse_window,
)
from kilopbx.core.errors import DomainError


def _selection(values: dict[str, Any]) -> tuple[list[str] | None, float, float, tuple[str, ...]]:
    """Numbers, window, and the normalised parameters a grant is bound to."""
    numbers = parse_numbers(required(values, "number"))
    start_text, end_text = required(values, "starttime"), required(values, "endtime")
    start, end = parse_window(start_text, end_text)
    bound = (",".join(numbers) if numbers is not None else "all", start_text, end_text)
    return numbers, start, end, bound


@endpoint("cdr/get_random", needs_body=True)
async def get_random(req: Request) -> dict[str, Any]:
    numbers, start, end, bound = _selection(req.body)
    extra_ip = parse_allowed_ip(optional(req.body, "allowedip"))
    if not await req.pbx.registry.get(CDR).any_selected(numbers, start, end):
        raise DomainError(NO_RECORDS, detail="no CDR for these numbers in this window")
    assert req.session is not None
    allowed = {req.session.client_ip} | ({extra_ip} if extra_ip else set())
    random = req.pbx.registry.get(CDR_DOWNLOADS).issue(req.session.token, bound, allowed)
    return {
        "number": required(req.body, "number"),
        "starttime": bound[1],
        "endtime": bound[2],
        "random": random,
    }


@endpoint("cdr/download", method="GET")
async def download(req: Request) -> web.Response:
    values = {**req.body, **req.query}
    random = required(values, "random")
    assert req.session is not None
    try:
        numbers, start, end, bound = _selection(values)
    except (ApiError, DomainError):
        # get_random accepted its parameters: these differ, which spends the grant
        numbers, start, end, bound = None, 0.0, 0.0, ()
    grant = req.pbx.registry.get(CDR_DOWNLOADS).redeem(random, req.session.token, bound)
    if grant is None:
        raise DomainError(BAD_RANDOM, detail="random string invalid, expired, used or not for this")
    if req.client_ip not in grant.allowed_ips:
        raise DomainError(IP_NOT_ALLOWED, detail="this address may not download")
    serial, directory = req.pbx.serial_number, req.pbx.settings.data_dir
    spool = await spool_csv_file(req.pbx.registry.get(CDR), numbers, start, end, serial, directory)
    headers = cors_headers(None)
    headers["Content-Disposition"] = 'attachment; filename="cdr.csv"'
    # the open file is streamed with its length, and closed (it has no name) when sent
    response = web.Response(body=spool, content_type="text/csv", charset="utf-8", headers=headers)
    response.force_close()
    return response


# the errno each reason answers on the wire (X-KiloPBX-Detail carries the detail)
map_reasons(
    {
        wire.BAD_TIME: "20019",
        wire.BAD_RANDOM: "20020",
        wire.NO_RECORDS: "20021",
        wire.IP_NOT_ALLOWED: "20015",
    }
)
