"""Where domain errors become API failures: one errno per reason code.

Each feature's edge (its endpoints module) registers the table of its reasons when it is
imported (`map_reasons`); the router answers a `DomainError` with the mapped errno and
the detail in `X-KiloPBX-Detail`, exactly like an `ApiError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from kilopbx.api import errors
from kilopbx.api.errors import ApiError
from kilopbx.core import errors as core_errors
from kilopbx.core.errors import DomainError

log = logging.getLogger(__name__)

_errnos: dict[str, str] = {core_errors.MISSING_PARAMETER: errors.MISSING_PARAMETER}


def map_reasons(table: Mapping[str, str]) -> None:
    """Add `reason -> errno` pairs; a reason can never answer two different errnos."""
    for reason, errno in table.items():
        known = _errnos.setdefault(reason, errno)
        if known != errno:
            raise ValueError(f"reason {reason!r} maps to {known} and {errno}")


def errno_for(reason: str) -> str | None:
    return _errnos.get(reason)


def to_api_error(exc: DomainError) -> ApiError:
    errno = _errnos.get(exc.reason)
    if errno is None:
        # a reason without an errno is a bug at the edge; the client still gets a failure
        log.error("domain reason %r has no errno", exc.reason)
        return ApiError(errors.DISPATCH_FAILED, exc.detail)
    return ApiError(errno, exc.detail)
