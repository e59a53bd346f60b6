"""One-time download grants (the `random` strings of 60-voicemail-recording-cdr.md).

A grant is valid for 30 seconds and for one download: the first request that presents
it consumes it, whatever its outcome. It is bound to the token that asked for it and to
the download's parameters, and names the addresses that may use it. Grants live in
memory only (they are worth 30 s) and at most `MAX_GRANTS` at once; beyond that the
oldest is dropped, so a client asking in a loop cannot grow our memory.
"""

from __future__ import annotations

import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass

from kilopbx.clock import Clock
from kilopbx.core.registry import Key

LIFETIME = 30.0
MAX_GRANTS = 1024


@dataclass(frozen=True)
class Grant:
    token: str
    parameters: tuple[str, ...]
    allowed_ips: frozenset[str]
    expires: float


class DownloadGrants:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grants: OrderedDict[str, Grant] = OrderedDict()

    def issue(self, token: str, parameters: tuple[str, ...], allowed_ips: set[str]) -> str:
        now = self._clock.monotonic()
        while self._grants and next(iter(self._grants.values())).expires <= now:
            self._grants.popitem(last=False)
        while len(self._grants) >= MAX_GRANTS:
            self._grants.popitem(last=False)
        random = secrets.token_hex(16)
        self._grants[random] = Grant(token, parameters, frozenset(allowed_ips), now + LIFETIME)
        return random

    def redeem(self, random: str, token: str, parameters: tuple[str, ...]) -> Grant | None:
        """The grant if `random` is live and was issued for this token and these
        parameters; consumed either way."""
        grant = self._grants.pop(random, None)
        if grant is None or grant.expires <= self._clock.monotonic():
            return None
        if not hmac.compare_digest(grant.token.encode(), token.encode()):
            return None
        if grant.parameters != parameters:
            return None
        return grant


CDR_DOWNLOADS: Key[DownloadGrants] = Key("cdr_downloads")
