"""The composition root: one KiloPBX process and everything it runs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import ipaddress
import logging
import os
from dataclasses import replace

from kilopbx.api import endpoints  # noqa: F401  (registers the core endpoints)
from kilopbx.api.connection_guard import ApiConnectionLimits, ConnectionGuard
from kilopbx.api.errors import ApiError
from kilopbx.api.http_app import ApiHttpHandler
from kilopbx.api.http_listener import SniffingListener, make_server
from kilopbx.api.lockout import LoginLockout
from kilopbx.api.sessions import SessionManager
from kilopbx.api.tls import ensure_self_signed, server_context
from kilopbx.clock import Clock, SystemClock
from kilopbx.config import Settings
from kilopbx.core.registry import Feature, Registry, check_provided, start_order
from kilopbx.descriptors import descriptor_budget, open_files_limit
from kilopbx.engine.calls import CALLS
from kilopbx.engine.host import Host
from kilopbx.engine.routing import DIRECTORY
from kilopbx.events.bus import EventBus
from kilopbx.events.outbox import Outbox
from kilopbx.events.reporter import EventReporter
from kilopbx.events.tcp_server import TcpAuth, TcpEventServer
from kilopbx.events.types import BootUp
from kilopbx.features import FEATURES
from kilopbx.store.database import create_engine, migrate, session_factory
from kilopbx.store.settings_repo import SettingsRepo, new_api_password, new_serial_number

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 5.0


class Pbx:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        # each listener's share of the open files limit (`kilopbx serve` raises it first);
        # the connection limits every part reads from the settings are capped to it
        self.descriptors = descriptor_budget(
            open_files_limit(),
            api_wanted=settings.api_max_connections,
            sip_tcp_wanted=settings.sip_tcp_max_connections,
        )
        self.settings = replace(
            settings,
            api_max_connections=self.descriptors.api_connections,
            sip_tcp_max_connections=self.descriptors.sip_tcp_connections,
        )
        self.clock: Clock = clock or SystemClock()
        self.bus = EventBus()
        self.serial_number = ""
        self.api_password = ""
        self.generated_password = False
        self.started_monotonic = self.clock.monotonic()
        # where features publish and find each other's services (kilopbx.core.registry)
        self.registry = Registry()
        self.features: list[Feature] = []
        self._listeners: list[SniffingListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.tcp_events: TcpEventServer | None = None
        self.http_port = 0
        self.https_port = 0

    # -- start / stop ----------------------------------------------------------------------

    async def open_store(self) -> None:
        data = self.settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(data, 0o700)
        self.engine = create_engine(self.settings.db_url)
        await migrate(self.engine)
        self.db = session_factory(self.engine)
        self.settings_repo = SettingsRepo(self.db)

    async def start(self) -> None:
        await self.open_store()
        self.serial_number, _ = await self.settings_repo.get_or_create("sn", new_serial_number())
        await self._load_api_credentials()
        s = self.settings
        self.lockout = LoginLockout(
            self.db,
            self.clock,
            max_failures=s.api_lockout_failures,
            block_seconds=s.api_lockout_seconds,
        )
        self.sessions = SessionManager(
            self.db,
            self.clock,
            idle_seconds=s.api_token_idle_seconds,
            max_sessions=s.api_max_sessions,
        )
        await self._check_credentials_fingerprint()
        restored = await self.sessions.load()
        self.outbox = Outbox(self.db, self.clock)
        await self.outbox.load({session.id for session in restored})
        if s.report_method == "TCP":
            self.tcp_events = TcpEventServer(
                s.bind, s.tcp_event_port, self._tcp_auth(), self.serial_number
            )
            await self.tcp_events.start()
        self.events = EventReporter(
            self.outbox,
            self.sessions,
            self.serial_number,
            method=s.report_method,
            retry_max=s.event_retry_max,
            tcp_server=self.tcp_events,
        )
        self.events.extension_monitored = self._extension_monitored
        self.bus.subscribe(self.events)
        self.outbox.start()
        self.events.start()
        classes: list[type[Feature]] = [importlib.import_module(n).Feature for n in FEATURES]
        host: Host = self  # what a feature may use of the Pbx
        for feature_class in start_order(classes):
            # the protocol cannot declare the constructor: each feature takes the host
            feature = feature_class(host)  # type: ignore[call-arg]
            await feature.start()
            self.features.append(feature)  # stop() stops only what started
            check_provided(feature, self.registry)
        self._skip_unheard_inbound_windows()
        await self._start_api()
        self._tasks.append(asyncio.get_running_loop().create_task(self._sweep_loop()))
        self.started_monotonic = self.clock.monotonic()
        self.bus.publish(BootUp())
        log.info("KiloPBX ready (serial %s)", self.serial_number)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for listener in self._listeners:
            await listener.stop()
        for feature in reversed(self.features):
            try:
                await feature.stop()
            except Exception:
                log.exception("feature failed to stop")
        # stop() also runs after a failed start(): only what was started is stopped
        if self.tcp_events is not None:
            await self.tcp_events.stop()
        if hasattr(self, "events"):
            await self.events.stop()
        if hasattr(self, "outbox"):
            await self.outbox.stop()
        if hasattr(self, "sessions"):
            with contextlib.suppress(Exception):
                await self.sessions.sweep()
        if hasattr(self, "engine"):
            await self.engine.dispose()

    async def _start_api(self) -> None:
        s = self.settings
        if s.tls_cert and s.tls_key:
            cert, key = s.tls_cert, s.tls_key
        else:
            cert, key = ensure_self_signed(s.data_dir / "tls")
        ctx = server_context(cert, key)
        limits = ApiConnectionLimits.within(
            s.api_max_connections,
            per_address=s.api_max_waiting_per_address,
            request_timeout=s.api_request_timeout,
        )
        guard = ConnectionGuard(limits, asyncio.get_running_loop().time)
        server = make_server(ApiHttpHandler(self, guard.arrived))
        main = SniffingListener(server, s.bind, s.http_port, ctx, guard)
        await main.start()
        self._listeners.append(main)
        self.http_port = main.port
        if s.https_port:
            tls_only = SniffingListener(server, s.bind, s.https_port, ctx, guard, allow_plain=False)
            await tls_only.start()
            self._listeners.append(tls_only)
            self.https_port = tls_only.port

    async def _load_api_credentials(self) -> None:
        if self.settings.api_password:
            self.api_password = self.settings.api_password
            return
        password, created = await self.settings_repo.get_or_create(
            "api_password", new_api_password()
        )
        self.api_password = password
        self.generated_password = created

    async def _check_credentials_fingerprint(self) -> None:
        material = f"{self.settings.api_username}\0{self.api_password}".encode()
        fingerprint = hashlib.sha256(material).hexdigest()
        stored, created = await self.settings_repo.get_or_create("api_fingerprint", fingerprint)
        if not created and stored != fingerprint:
            log.info("API credentials changed: ending every API session")
            await self.sessions.load()
            await self.sessions.invalidate_all()
            await self.settings_repo.set("api_fingerprint", fingerprint)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.sessions.sweep()
            except Exception:
                log.exception("session sweep failed")

    # -- helpers for the API ---------------------------------------------------------------

    def api_ip_allowed(self, ip: str) -> bool:
        allowed = self.settings.api_allowed_ips
        if not allowed:
            return True
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in allowed)

    def _skip_unheard_inbound_windows(self) -> None:
        """A controlled trunk call waits for a decision only while some API session
        can hear its ``Invite`` (80-events §5)."""
        engine = self.registry.find(CALLS)
        if engine is not None:
            engine.inbound_windows.heard = lambda: bool(self.sessions.live_sessions())

    def _extension_monitored(self, number: str) -> bool:
        """ExtensionStatus events go out unless the extension turned monitoring off."""
        directory = self.registry.find(DIRECTORY)
        return directory is None or directory.status_monitored(number)

    async def _ip_locked(self, ip: str) -> bool:
        try:
            await self.lockout.check(ip)
        except ApiError:
            return True
        return False

    def _tcp_auth(self) -> TcpAuth:
        return TcpAuth(
            username=lambda: self.settings.api_username,
            password=lambda: self.api_password,
            ip_allowed=self.api_ip_allowed,
            is_locked=self._ip_locked,
            failed=lambda ip: self.lockout.failed(ip),
            succeeded=lambda ip: self.lockout.succeeded(ip),
            uptime=lambda: self.clock.monotonic() - self.started_monotonic,
        )
