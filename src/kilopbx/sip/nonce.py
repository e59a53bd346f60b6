"""Self-validating digest nonces with replay tracking in bounded memory.

A nonce is ``base64url(issued_at || random || HMAC(secret, issued_at || random))``;
when issued for a client address, that address is in the HMAC too (not in the
nonce), so the nonce only checks out for answers from that address.
The server keeps no per-nonce state to validate one; it only remembers the last
nonce-count seen for recently used nonces, so that replays can be refused.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

from kilopbx.sip.random_pool import random_bytes as pooled_random_bytes

__all__ = ["NonceManager", "NonceStatus"]

_TIMESTAMP: Final = struct.Struct(">d")
_RANDOM_BYTES: Final = 8
_MAC_BYTES: Final = 16
_RAW_LENGTH: Final = _TIMESTAMP.size + _RANDOM_BYTES + _MAC_BYTES


def _hmac_states(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """SHA-256 after absorbing the key XOR ipad, and after the key XOR opad (RFC 2104 §2):
    HMAC(key, m) = H(key^opad || H(key^ipad || m)), as ``hmac.new`` computes it."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\x00")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))
    return inner, outer


class NonceStatus(enum.Enum):
    VALID = "valid"
    STALE = "stale"  # ours, but expired or no longer tracked: challenge again with stale=true
    INVALID = "invalid"  # not issued by us (or tampered with)


class NonceManager:
    """Issues and checks nonces; ``clock`` returns seconds and is injectable for tests."""

    def __init__(
        self,
        secret: bytes,
        *,
        lifetime: float = 300.0,
        clock: Callable[[], float] = time.time,
        max_tracked: int = 10_000,
        random_bytes: Callable[[int], bytes] = pooled_random_bytes,
        clock_skew: float = 5.0,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the nonce secret needs at least 16 bytes")
        # HMAC-SHA256 (RFC 2104) with its two keyed hash states made once: each MAC
        # copies them, a third of what hmac.new costs (its Python wrapper included).
        self._inner, self._outer = _hmac_states(secret)
        self._lifetime = lifetime
        self._clock = clock
        self._max_tracked = max_tracked
        self._random_bytes = random_bytes
        self._clock_skew = clock_skew
        # nonce -> (issued_at, highest nonce-count seen), oldest use first
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        # Nonces issued at or before this instant may have lost their replay
        # record to eviction; they are answered as stale instead of trusted.
        self._forgotten_until = float("-inf")
        self._last_verified: tuple[str, str | None, float] | None = None

    def issue(self, bound_to: str | None = None) -> str:
        """A fresh nonce; with ``bound_to`` (the client's IP) it is valid only when
        checked with the same ``bound_to``."""
        payload = _TIMESTAMP.pack(self._clock()) + self._random_bytes(_RANDOM_BYTES)
        mac = self._mac(payload, bound_to)
        return base64.urlsafe_b64encode(payload + mac).decode("ascii")

    def _mac(self, payload: bytes, bound_to: str | None) -> bytes:
        if bound_to is not None:
            # A separator no IP address contains keeps the two parts apart.
            payload += b"\x00" + bound_to.encode("utf-8", "surrogateescape")
        inner = self._inner.copy()
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()[:_MAC_BYTES]

    def _issued_at(self, nonce: str, bound_to: str | None = None) -> float | None:
        # A request's nonce is checked two or three times in a row (the authenticator,
        # then the nonce count): the last one verified is remembered, not re-MACed.
        last = self._last_verified
        if last is not None and last[0] == nonce and last[1] == bound_to:
            return last[2]
        issued_at = self._verify(nonce, bound_to)
        if issued_at is not None:
            self._last_verified = (nonce, bound_to, issued_at)
        return issued_at

    def _verify(self, nonce: str, bound_to: str | None) -> float | None:
        try:
            raw = base64.urlsafe_b64decode(nonce.encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            return None
        if len(raw) != _RAW_LENGTH:
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(payload, bound_to)):
            return None
        return float(_TIMESTAMP.unpack_from(payload)[0])

    def check(self, nonce: str, bound_to: str | None = None) -> NonceStatus:
        """Is this one of our nonces (issued for ``bound_to``), and still fresh?"""
        issued_at = self._issued_at(nonce, bound_to)
        if issued_at is None:
            return NonceStatus.INVALID
        now = self._clock()
        if issued_at > now + self._clock_skew:
            return NonceStatus.INVALID
        if now - issued_at > self._lifetime:
            return NonceStatus.STALE
        return NonceStatus.VALID

    def check_count(self, nonce: str, nonce_count: int, bound_to: str | None = None) -> NonceStatus:
        """Validate ``nonce`` and accept ``nonce_count`` only if it is higher than before.

        A repeated or lower count is a replay (or a reordered request); it gets
        STALE so an honest client simply retries with a fresh nonce.
        """
        status = self.check(nonce, bound_to)
        if status is not NonceStatus.VALID:
            return status
        issued_at = self._issued_at(nonce, bound_to)
        assert issued_at is not None
        if nonce_count < 1:
            return NonceStatus.INVALID
        seen = self._counts.get(nonce)
        if seen is None and issued_at <= self._forgotten_until:
            return NonceStatus.STALE
        if seen is not None and nonce_count <= seen[1]:
            return NonceStatus.STALE
        self._counts[nonce] = (issued_at, nonce_count)
        self._counts.move_to_end(nonce)
        self._expire()
        return NonceStatus.VALID

    @property
    def tracked(self) -> int:
        return len(self._counts)

    def _expire(self) -> None:
        oldest_fresh = self._clock() - self._lifetime
        while self._counts:
            nonce, (issued_at, _) = next(iter(self._counts.items()))
            if issued_at < oldest_fresh:
                del self._counts[nonce]  # expired anyway: check() will say stale
            elif len(self._counts) > self._max_tracked:
                del self._counts[nonce]
                self._forgotten_until = max(self._forgotten_until, issued_at)
            else:
                break
