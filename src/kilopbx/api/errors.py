"""API failures carry one errno (conventions §3); the envelope turns them into JSON."""

from __future__ import annotations


class ApiError(Exception):
    """Raised anywhere below an endpoint to answer {"status": "Failed", "errno": ...}."""

    def __init__(self, errno: str | int, detail: str | None = None) -> None:
        super().__init__(str(errno) if detail is None else f"{errno}: {detail}")
        self.errno = str(errno)
        # human-readable reason; sent in the X-KiloPBX-Detail header, never in the body,
        # because clients compare failure bodies as {"status", "errno"} (conventions §2)
        self.detail = detail


# The numbers the core itself uses; feature modules raise ApiError with their own.
XML_BODY = "10002"
UNKNOWN_ENDPOINT = "10003"
MISSING_PARAMETER = "10004"
NOT_JSON = "20000"
POST_ONLY = "20001"
IP_LOCKED = "20002"
BAD_CREDENTIALS = "20003"
NO_SUCH_TOKEN = "20004"
TOKEN_MISSING = "20005"
TOKEN_EXPIRED = "20006"
EMPTY_REQUEST = "20007"
INVALID_PORT = "20008"
EMPTY_REQUEST_NAME = "20009"
DISPATCH_FAILED = "20010"
HEARTBEAT_STORE_FAILED = "20011"
IP_NOT_ALLOWED = "20015"
INTERNAL = "30001"
API_DISABLED = "30003"
