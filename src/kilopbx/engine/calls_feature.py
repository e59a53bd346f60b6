"""Feature that runs the call engine: it owns new INVITEs and starts the media workers.

Needs the SIP service, the registrar's digest authenticator (``SIP_AUTH``), the
account directory and ``REGISTRATIONS``; feeds ``SIP_METHODS`` (INVITE) and
``LINE_STATUS`` (Ringing and Busy), and provides ``CALLS``, ``CALL_CONTROL``
(hold, mute: ``kilopbx.engine.call_control``) and ``CALL_SUPERVISION`` (listen, add
member: ``kilopbx.engine.call_listen``). The media pool starts in
the background (``media.workers`` processes; start-up does not wait for them): an
INVITE arriving before the workers are up waits for them within the call setup.

Settings: TOML ``[calls]`` table or ``KILOPBX_CALL_*`` variables: ``ring_timeout``
(seconds a call rings before "no answer", default 60), ``rtp_timeout`` (seconds
without RTP before an answered call is hung up, default 60, 0 = never) and
``max_duration`` (seconds, 0 = no limit), ``trunk_timeout`` (seconds a provider may
leave an INVITE without any response before the next trunk is tried, default 5),
``inbound_window`` (seconds a call on a trunk with inbound call control waits for the
application's decision, default 10) and
``call_waiting`` (true by default: a
second call rings an extension already talking and its phone decides; false: such a
call is treated as busy), ``session_expires`` (the session interval offered to
callees, RFC 4028, default 1800 s, 0 = none, else at least 90).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from kilopbx.core.registry import Need
from kilopbx.engine.applications import CALL_APPLICATIONS
from kilopbx.engine.call_control import CALL_CONTROL, CallControl
from kilopbx.engine.call_listen import CALL_SUPERVISION, CallSupervision
from kilopbx.engine.call_observer import CALL_OBSERVERS
from kilopbx.engine.call_park import ParkingLot
from kilopbx.engine.call_reporting import CallReporter
from kilopbx.engine.calls import CALLS, CallEngine
from kilopbx.engine.feature_codes import PHONE_SETTINGS
from kilopbx.engine.routing import CALL_ROUTING, DIRECTORY, LINE_STATUS, REGISTRATIONS
from kilopbx.engine.session_timer import MIN_SE
from kilopbx.engine.sip_auth import SIP_AUTH
from kilopbx.engine.sip_service import SIP, SIP_METHODS, SipMethod
from kilopbx.engine.sounds import CALL_RECORDINGS, SOUNDS
from kilopbx.engine.trunk_calls import INBOUND_DESTINATIONS
from kilopbx.engine.trunking import TRUNK_LINES
from kilopbx.events.call_model import CALL_RECORDS
from kilopbx.media.pool import MediaPool, worker_count

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)

# methods our call dialogs handle (kilopbx.engine.call_leg)
DIALOG_METHODS = ("BYE", "UPDATE", "INFO", "REFER")


SECONDS = (
    "ring_timeout", "rtp_timeout", "max_duration", "trunk_timeout", "park_timeout",
    "inbound_window",
    "session_expires",
)  # fmt: skip
SWITCH = {"1": True, "true": True, "yes": True, "on": True}
SWITCH |= {"0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class CallsConfig:
    ring_timeout: float = 60.0
    rtp_timeout: float = 60.0
    max_duration: float = 0.0
    trunk_timeout: float = 5.0
    park_timeout: float = 120.0  # a parked call nobody retrieves rings its parker then
    inbound_window: float = 10.0  # a controlled trunk call waits this long for a decision
    call_waiting: bool = True
    session_expires: float = 1800.0  # RFC 4028 §4 recommends 30 minutes

    @classmethod
    def load(
        cls, extra: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> CallsConfig:
        env = os.environ if env is None else env
        values: dict[str, Any] = dict((extra or {}).get("calls", {}))
        for name in (*SECONDS, "call_waiting"):
            variable = f"KILOPBX_CALL_{name.upper()}"
            if env.get(variable):
                values[name] = env[variable]
        waiting = str(values.pop("call_waiting", "1")).strip().lower()
        if waiting not in SWITCH:
            raise ValueError("[calls] call_waiting must be true or false")
        try:
            numbers = {k: float(v) for k, v in values.items() if k in SECONDS}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"[calls] settings must be numbers: {exc}") from None
        if any(v < 0 or v > 86_400 for v in numbers.values()):
            raise ValueError("[calls] settings must be between 0 and 86400 seconds")
        if 0 < numbers.get("session_expires", MIN_SE) < MIN_SE:
            raise ValueError(f"[calls] session_expires must be 0 (none) or {MIN_SE} or more")
        return cls(**numbers, call_waiting=SWITCH[waiting])


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (SIP, SIP_AUTH, DIRECTORY, REGISTRATIONS)
    provides: ClassVar[tuple[Need, ...]] = (
        CALLS,
        CALL_CONTROL,
        CALL_SUPERVISION,
        SIP_METHODS,
        LINE_STATUS,
    )

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        settings = pbx.settings
        config = CallsConfig.load(settings.extra)
        registry = pbx.registry
        # call events and CDRs; the CDR service may be absent (then no records)
        self.reporter = CallReporter(pbx.bus, lambda: registry.find(CALL_RECORDS))
        self.media = MediaPool(
            worker_count(settings.media_workers), settings.rtp_ports, bind=settings.bind
        )
        self.engine = CallEngine(
            sip=registry.get(SIP),
            auth=registry.get(SIP_AUTH),
            directory=registry.get(DIRECTORY),
            registrations=registry.get(REGISTRATIONS),
            media=self.media,
            clock=pbx.clock,
            bus=pbx.bus,
            observers=lambda: [self.reporter, *registry.contributions(CALL_OBSERVERS)],
            ring_timeout=config.ring_timeout or None,
            rtp_timeout=config.rtp_timeout,
            max_duration=config.max_duration or None,
            call_waiting=config.call_waiting,
            phone_settings=lambda: registry.find(PHONE_SETTINGS),
        )
        # routes and trunks may start after us, or be absent: looked up at each call
        self.engine.call_routing = lambda: registry.find(CALL_ROUTING)
        self.engine.trunk_lines = lambda: registry.find(TRUNK_LINES)
        self.engine.inbound_destinations = lambda: registry.contributions(INBOUND_DESTINATIONS)
        self.engine.trunk_timeout = config.trunk_timeout or 5.0
        self.engine.inbound_windows.seconds = config.inbound_window or 10.0
        self.engine.session_expires = int(config.session_expires)
        self.engine.applications = lambda: registry.contributions(CALL_APPLICATIONS)
        self.media.on_notification = self.engine.on_media_notification
        self.engine.parking = ParkingLot(self.engine, config.park_timeout or 120.0)
        self.engine.sounds = lambda: registry.find(SOUNDS)
        self.engine.recordings = lambda: registry.find(CALL_RECORDINGS)
        self.media.on_lost = self.engine.on_media_lost
        self._media_start: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._media_start = asyncio.get_running_loop().create_task(self._start_media())
        self.engine.media_ready = self._media_start
        registry = self.pbx.registry
        # "timer": session timers (RFC 4028), honoured on the caller's leg and
        # offered on the callee's;
        # "100rel": callers get reliable provisional responses (RFC 3262);
        # "replaces": an INVITE with Replaces takes over a live leg (RFC 3891)
        sip = registry.get(SIP)
        tags = ("timer", "100rel", "replaces")
        sip.advertise(methods=(*DIALOG_METHODS, "PRACK"), option_tags=tags)
        sip.before_stop(self.engine.stop)  # hang calls up while BYEs can still go out
        registry.contribute(SIP_METHODS, SipMethod("INVITE", self.engine.on_invite))
        registry.contribute(LINE_STATUS, self.engine.line_status)
        registry.provide(CALLS, self.engine)
        registry.provide(CALL_CONTROL, CallControl(self.engine))
        registry.provide(CALL_SUPERVISION, CallSupervision(self.engine))

    async def _start_media(self) -> None:
        await self.media.start()
        log.info("media: %d workers on RTP ports %s", self.media.size, self.pbx.settings.rtp_ports)

    async def stop(self) -> None:
        await self.engine.stop()
        await self.reporter.drain()
        if self._media_start is not None and not self._media_start.done():
            self._media_start.cancel()
        await self.media.close()
