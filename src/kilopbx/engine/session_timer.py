"""Session timers (RFC 4028), sans IO, on both legs of a call.

The caller's leg (we are the UAS): a phone that supports timers asks for a session
interval with ``Session-Expires``; one below our minimum gets ``422`` with
``Min-SE`` (§8.1). We accept the interval the phone chose and leave the refreshing
to it (``refresher=uac``): its re-INVITE or UPDATE restarts the timer, and a session
that is not refreshed within the interval is hung up (§10), so a phone that vanished
without a BYE does not leave a call behind. A phone that only says
``Supported: timer`` without ``Session-Expires`` gets none: nothing is imposed on it.

The callee's leg (we are the UAC): our INVITE offers a session interval
(``offer_headers``); the callee's 2xx says whether it takes it and who refreshes
(``granted``). When we are the refresher we send a refresh at half the interval
(§10); when the callee is, a session it has not refreshed by the interval less
``min(32, interval / 3)`` is hung up. A 2xx without ``Session-Expires`` means no
timer on that leg (§7.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from kilopbx.sip.message import SipRequest, SipResponse

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


# -- the callee's leg --------------------------------------------------------------------


def offer_headers(interval: int) -> list[tuple[str, str]]:
    """What our INVITE to a callee carries to ask for a session timer (§7.1); the
    callee picks the refresher."""
    return [
        ("Supported", "timer"),
        ("Session-Expires", str(interval)),
        ("Min-SE", str(MIN_SE)),
    ]


@dataclass(frozen=True, slots=True)
class CalleeSession:
    """A session timer on the leg toward the callee: ``we_refresh`` when the callee's
    2xx made us the refresher (``refresher=uac``)."""

    interval: int
    we_refresh: bool

    def deadline(self, refreshed_at: float) -> float:
        """When the next thing is due, counted from the last refresh: our refresh at
        half the interval, or the callee's session expiring (§10)."""
        if self.we_refresh:
            return refreshed_at + self.interval / 2
        return self.expires_at(refreshed_at)

    def expires_at(self, refreshed_at: float) -> float:
        """The moment a session not refreshed since ``refreshed_at`` is over (§10)."""
        return refreshed_at + self.interval - min(32.0, self.interval / 3)

    def refresh_headers(self) -> list[tuple[str, str]]:
        """Our refreshing re-INVITE: we stay the refresher (§7.4)."""
        return [
            ("Supported", "timer"),
            ("Session-Expires", f"{self.interval};refresher=uac"),
            ("Min-SE", str(MIN_SE)),
        ]

    def answer_headers(self) -> list[tuple[str, str]]:
        """Our 2xx to the callee's own refresh: the callee is the UAC of that
        request; it refreshes unless we do."""
        refresher = "uas" if self.we_refresh else "uac"
        return [("Session-Expires", f"{self.interval};refresher={refresher}"), ("Require", "timer")]


def granted(response: SipResponse) -> CalleeSession | None:
    """The session timer the callee's 2xx (to our INVITE or refresh) sets up; None
    without one (no timer on this leg) or when unreadable. An interval below
    ``MIN_SE`` is raised to it; a 2xx that names no refresher leaves it to us."""
    value = response.headers.get("Session-Expires") or response.headers.get("x")
    if value is None:
        return None
    seconds, *params = value.split(";")
    seconds = seconds.strip()
    if not seconds.isdigit() or len(seconds) > 9:
        return None
    refresher = "uac"
    for param in params:
        name, _, text = param.partition("=")
        if name.strip().lower() == "refresher":
            refresher = text.strip().lower()
    interval = max(MIN_SE, min(int(seconds), MAX_SE))
    return CalleeSession(interval, we_refresh=refresher != "uas")
