"""Session timers (RFC 4028), sans IO, on both legs of a call.

The caller's leg (we are the UAS): a phone (or provider) that supports timers asks
for a session interval with ``Session-Expires``; one below our minimum gets ``422``
with ``Min-SE`` (§8.1). We accept the interval the caller chose and the refresher it
named (§9), the caller itself when it named none (``refresher=uac``): its re-INVITE
or UPDATE restarts the timer, and a session that is not refreshed within the
interval is hung up (§10), so a phone that vanished without a BYE does not leave a
call behind. A caller that named us (``refresher=uas``) gets our re-INVITEs at half
the interval, as a callee does. A phone that only says
``Supported: timer`` without ``Session-Expires`` gets none: nothing is imposed on it.

The callee's leg (we are the UAC): our INVITE offers a session interval
(``offer_headers``); the callee's 2xx says whether it takes it and who refreshes
(``granted``). When we are the refresher we send a refresh at half the interval
(§10); when the callee is, a session it has not refreshed by the interval less
``min(32, interval / 3)`` is hung up. A 2xx without ``Session-Expires`` means no
timer on that leg (§7.2). A callee that finds our interval too small answers 422
with its ``Min-SE``; the INVITE is then sent once more asking for that interval
(``raised_after_422``, §7.4).
"""

from __future__ import annotations

from dataclasses import dataclass

from kilopbx.sip.invite_client import repeated
from kilopbx.sip.message import SipRequest, SipResponse

MIN_SE = 90  # §4: the smallest interval anyone may ask for
MAX_SE = 86_400


@dataclass(frozen=True, slots=True)
class SessionTimer:
    interval: int  # seconds
    we_refresh: bool = False  # the caller asked us to (``refresher=uas``)

    def answer_headers(self) -> list[tuple[str, str]]:
        """Our 2xx: the refresher the caller named stays (§9); none named, the caller."""
        refresher = "uas" if self.we_refresh else "uac"
        return [("Session-Expires", f"{self.interval};refresher={refresher}"), ("Require", "timer")]


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
    interval = _seconds(value)
    if interval is None:
        return None
    if interval < MIN_SE:
        raise TooSmall(f"Session-Expires {interval} is under {MIN_SE}")
    return SessionTimer(min(interval, MAX_SE), we_refresh=_refresher(value) == "uas")


def _refresher(value: str) -> str:
    """The ``refresher`` parameter of a Session-Expires value ("uac" when none)."""
    for param in value.split(";")[1:]:
        name, _, text = param.partition("=")
        if name.strip().lower() == "refresher":
            return text.strip().lower()
    return "uac"


def _option_tags(request: SipRequest) -> set[str]:
    tags: set[str] = set()
    for value in request.headers.get_all("Supported") + request.headers.get_all("k"):
        tags.update(tag.strip().lower() for tag in value.split(","))
    return tags


# -- the callee's leg --------------------------------------------------------------------


def offer_headers(interval: int, *, also: str = "") -> list[tuple[str, str]]:
    """What our INVITE to a callee carries to ask for a session timer (§7.1); the
    callee picks the refresher. ``also``: other option tags for the same Supported."""
    return [
        ("Supported", f"{also}, timer" if also else "timer"),
        ("Session-Expires", str(interval)),
        ("Min-SE", str(MIN_SE)),
    ]


def raised_after_422(request: SipRequest, response: SipResponse) -> SipRequest | None:
    """Our INVITE ``request`` again, asking for the interval the callee's 422
    ``response`` names as its minimum (§7.4: Session-Expires and Min-SE both set to
    it; new CSeq, same Call-ID and From tag); None when there is nothing better to
    ask for: not a 422, we asked for no timer, no readable ``Min-SE``, or one that
    is not above what we asked or is beyond ``MAX_SE``."""
    if response.status != 422:
        return None
    asked = _seconds(request.headers.get("Session-Expires"))
    wanted = None if asked is None else raised_interval(asked, response)
    if wanted is None:
        return None
    again = repeated(request)
    again.headers.set("Session-Expires", str(wanted))
    again.headers.set("Min-SE", str(wanted))
    return again


def raised_interval(asked: int, response: SipResponse) -> int | None:
    """The interval a 422 ``response`` to our request for ``asked`` seconds wants
    instead (its ``Min-SE``); None when it names none above ``asked`` (asking again
    would only loop) or one beyond ``MAX_SE``."""
    wanted = _seconds(response.headers.get("Min-SE"))
    return (
        wanted
        if response.status == 422 and wanted is not None and asked < wanted <= MAX_SE
        else None
    )


def _seconds(value: str | None) -> int | None:
    """The delta-seconds of a Session-Expires or Min-SE value (its parameters
    ignored); None when absent or unreadable."""
    if value is None:
        return None
    seconds = value.split(";", 1)[0].strip()
    return int(seconds) if seconds.isdigit() and len(seconds) <= 9 else None


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
    seconds = _seconds(value)
    if seconds is None:
        return None
    interval = max(MIN_SE, min(seconds, MAX_SE))
    return CalleeSession(interval, we_refresh=_refresher(value) != "uas")
