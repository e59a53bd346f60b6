"""Session timers (RFC 4028) on the caller's leg, sans IO: what a phone asked for in
its INVITE, and what we answer.

A phone that supports timers asks for a session interval with ``Session-Expires``;
one below our minimum gets ``422`` with ``Min-SE`` (§8.1). We accept the interval
the phone chose and leave the refreshing to it (``refresher=uac``): its re-INVITE or
UPDATE restarts the timer, and a session that is not refreshed within the interval
is hung up (§10), so a phone that vanished without a BYE does not leave a call
behind. A phone that only says ``Supported: timer`` without ``Session-Expires`` gets
none: nothing is imposed on it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kilopbx.sip.message import SipRequest

MIN_SE = 90  # §4: the smallest interval anyone may ask for
MAX_SE = 86_400


@dataclass(frozen=True, slots=True)
class SessionTimer:
    interval: int  # seconds

    def answer_headers(self) -> list[tuple[str, str]]:
        return [("Session-Expires", f"{self.interval};refresher=uac"), ("Require", "timer")]


class TooSmall(ValueError):
    """The requested interval is under MIN_SE: answer 422 with ``Min-SE``."""


def requested(request: SipRequest) -> SessionTimer | None:
    """The session timer the INVITE asks for; None when none (or unreadable: a bad
    header costs the phone its timer, not its call)."""
    value = request.headers.get("Session-Expires") or request.headers.get("x")
    if value is None:
        return None
    if "timer" not in _option_tags(request):
        return None  # §7.2: without Supported: timer we must not require it back
    seconds = value.split(";", 1)[0].strip()
    if not seconds.isdigit() or len(seconds) > 9:
        return None
    interval = int(seconds)
    if interval < MIN_SE:
        raise TooSmall(f"Session-Expires {interval} is under {MIN_SE}")
    return SessionTimer(min(interval, MAX_SE))


def _option_tags(request: SipRequest) -> set[str]:
    tags: set[str] = set()
    for value in request.headers.get_all("Supported") + request.headers.get_all("k"):
        tags.update(tag.strip().lower() for tag in value.split(","))
    return tags
