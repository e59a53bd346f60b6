"""Domain errors: what services, validation and runtime code raise when they refuse.

A `DomainError` carries a stable reason code (a short string owned by the module that
raises it) and a human-readable detail. It knows nothing of the wire: the API edge maps
each reason to its errno and sends the detail in `X-KiloPBX-Detail`
(`kilopbx.api.reasons`), so the same service can serve other front ends unchanged.
"""

from __future__ import annotations

# a value the request must carry is absent or empty (every feature uses it)
MISSING_PARAMETER = "missing_parameter"


class DomainError(Exception):
    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason if detail is None else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
