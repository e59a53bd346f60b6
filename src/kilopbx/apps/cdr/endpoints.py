"""cdr/get_random and the cdr/download file it grants (60-voicemail-recording-cdr.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kilopbx.api.errors import IP_NOT_ALLOWED, ApiError
from kilopbx.api.http_app import cors_headers
from kilopbx.api.params import optional, required
from kilopbx.api.router import Request, endpoint
from kilopbx.apps.cdr.export import spool_csv_file
from kilopbx.apps.cdr.wire import (
    BAD_RANDOM,
    NO_RECORDS,
    parse_allowed_ip,
    parse_numbers,
    parse_window,
)

FEATURE = "kilopbx.apps.cdr.feature"


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
    feature = req.pbx.features[FEATURE]
    if not await feature.service.any_selected(numbers, start, end):
        raise ApiError(NO_RECORDS, detail="no CDR for these numbers in this window")
    assert req.session is not None
    allowed = {req.session.client_ip} | ({extra_ip} if extra_ip else set())
    random = feature.grants.issue(req.session.token, bound, allowed)
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
    except ApiError:
        # get_random accepted its parameters: these differ, which spends the grant
        numbers, start, end, bound = None, 0.0, 0.0, ()
    feature = req.pbx.features[FEATURE]
    grant = feature.grants.redeem(random, req.session.token, bound)
    if grant is None:
        raise ApiError(BAD_RANDOM, detail="random string invalid, expired, used or not for this")
    if req.client_ip not in grant.allowed_ips:
        raise ApiError(IP_NOT_ALLOWED, detail="this address may not download")
    serial, directory = req.pbx.serial_number, req.pbx.settings.data_dir
    spool = await spool_csv_file(feature.service, numbers, start, end, serial, directory)
    headers = cors_headers(None)
    headers["Content-Disposition"] = 'attachment; filename="cdr.csv"'
    # the open file is streamed with its length, and closed (it has no name) when sent
    response = web.Response(body=spool, content_type="text/csv", charset="utf-8", headers=headers)
    response.force_close()
    return response
