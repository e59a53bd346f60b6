"""Message-waiting indication (RFC 3842): the `message-summary` subscriptions, sans IO.

`MwiSubscriptions` decides what a SUBSCRIBE gets (RFC 6665: the Event package, the
Accept list, the granted Expires), keeps each live subscription (keyed by its dialog,
naming the mailbox it watches and when it runs out), says which subscriptions a
mailbox change must notify, and which have expired at a given time. The clock is
passed in; nothing here sends or sleeps. `summary` renders the NOTIFY body.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

EVENT = "message-summary"
CONTENT_TYPE = "application/simple-message-summary"
DEFAULT_EXPIRES = 3600
MIN_EXPIRES = 60
MAX_EXPIRES = 3600
MAX_SUBSCRIPTIONS = 10_000  # all mailboxes together
MAX_PER_MAILBOX = 16


@dataclass(frozen=True)
class Verdict:
    """The answer to a SUBSCRIBE: `status` (200 or an error), the granted `expires`
    (0 ends the subscription), and header fields the error response must carry."""

    status: int
    expires: int = 0
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Subscription:
    key: Hashable  # the dialog
    mailbox: str
    expires_at: float


def check_subscribe(event: str | None, accept: list[str], expires: str | None) -> Verdict:
    """Whether a SUBSCRIBE may be served, and for how long (RFC 6665 §4.2.1)."""
    package = (event or "").split(";")[0].strip().lower()
    if package != EVENT:
        return Verdict(489, headers=(("Allow-Events", EVENT),))
    if accept:
        types = [t.split(";")[0].strip().lower() for value in accept for t in value.split(",")]
        if CONTENT_TYPE not in types and "*/*" not in types and "application/*" not in types:
            return Verdict(406, headers=(("Accept", CONTENT_TYPE),))
    if expires is None or not expires.strip():
        return Verdict(200, DEFAULT_EXPIRES)
    text = expires.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return Verdict(400)
    seconds = int(text)
    if seconds == 0:
        return Verdict(200, 0)
    if seconds < MIN_EXPIRES:
        return Verdict(423, headers=(("Min-Expires", str(MIN_EXPIRES)),))
    return Verdict(200, min(seconds, MAX_EXPIRES))


class MwiSubscriptions:
    def __init__(self) -> None:
        self._by_key: dict[Hashable, Subscription] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: Hashable) -> Subscription | None:
        return self._by_key.get(key)

    def admit(self, mailbox: str) -> bool:
        """Room for one more subscription (to this mailbox)?"""
        if len(self._by_key) >= MAX_SUBSCRIPTIONS:
            return False
        return sum(1 for s in self._by_key.values() if s.mailbox == mailbox) < MAX_PER_MAILBOX

    def subscribe(self, key: Hashable, mailbox: str, expires: int, now: float) -> Subscription:
        """A new or refreshed subscription; `expires` 0 ends it (returned once more
        for the final NOTIFY)."""
        subscription = self._by_key.get(key) or Subscription(key, mailbox, now)
        subscription.expires_at = now + expires
        if expires <= 0:
            self._by_key.pop(key, None)
        else:
            self._by_key[key] = subscription
        return subscription

    def remove(self, key: Hashable) -> None:
        self._by_key.pop(key, None)

    def watching(self, mailbox: str) -> list[Subscription]:
        return [s for s in self._by_key.values() if s.mailbox == mailbox]

    def subscribed(self, mailbox: str) -> bool:
        return any(s.mailbox == mailbox for s in self._by_key.values())

    def expire(self, now: float) -> list[Subscription]:
        """The subscriptions that ran out by `now`, forgotten."""
        gone = [s for s in self._by_key.values() if s.expires_at <= now]
        for subscription in gone:
            del self._by_key[subscription.key]
        return gone

    def next_expiry(self) -> float | None:
        return min((s.expires_at for s in self._by_key.values()), default=None)


def summary(new: int, old: int, account: str) -> bytes:
    """The `application/simple-message-summary` body (RFC 3842 §5.2)."""
    waiting = "yes" if new else "no"
    return (
        f"Messages-Waiting: {waiting}\r\nMessage-Account: {account}\r\n"
        f"Voice-Message: {new}/{old} (0/0)\r\n"
    ).encode()


def state_header(expires_at: float, now: float) -> str:
    """Subscription-State of a NOTIFY: active with what is left, or terminated."""
    left = int(expires_at - now)
    return f"active;expires={left}" if left > 0 else "terminated;reason=timeout"
