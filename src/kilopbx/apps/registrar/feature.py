"""The registrar feature: wires RegistrarCore to the SIP service, the database, the
event bus and the account directory.

Needs the directory (filled by the extensions feature) and the SIP service; feeds
``SIP_METHODS`` (REGISTER) and ``LINE_STATUS``, and provides ``REGISTRATIONS`` for the
call engine and the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import TYPE_CHECKING, ClassVar

from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.apps.registrar.core import REGISTERED, Binding, RegistrarCore
from kilopbx.apps.registrar.durable_ack import DurableAck
from kilopbx.apps.registrar.qualify import Qualifier
from kilopbx.apps.registrar.registered_hosts import RegisteredHosts
from kilopbx.apps.registrar.security import BanList
from kilopbx.apps.registrar.service import RegisterHandler
from kilopbx.apps.registrar.store import BindingStore
from kilopbx.apps.registrar.tcp_trust import TcpTrust
from kilopbx.core.registry import Need
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.routing import DIRECTORY, LINE_STATUS, REGISTRATIONS
from kilopbx.engine.sip_auth import SIP_AUTH
from kilopbx.engine.sip_service import SIP, SIP_METHODS, SipMethod, SipService
from kilopbx.events.types import ExtensionStatus
from kilopbx.sip.digest import NonceManager

if TYPE_CHECKING:
    from kilopbx.engine.host import Host

log = logging.getLogger(__name__)

NONCE_SECRET_KEY = "sip_nonce_secret"  # kept so nonces stay valid across a restart


class Registrar:
    """What other features use, as ``registry.get(REGISTRATIONS)``."""

    def __init__(
        self,
        pbx: Host,
        config: RegistrarConfig,
        *,
        sip: SipService,
        directory: AccountDirectory,
    ) -> None:
        self.pbx = pbx
        self.config = config
        self.directory = directory
        clock = pbx.clock
        self.core = RegistrarCore(
            clock, config.limits, on_status=self._status_changed, on_dirty=self._dirty
        )
        self.store = BindingStore(
            pbx.engine, self.core.bindings, config.flush_interval, refresh_lag=config.refresh_lag
        )
        self.durable = DurableAck(self.store, wait_limit=config.commit_wait)
        self.bans = BanList(
            clock.monotonic,
            threshold=config.ban_failures,
            window=config.ban_window,
            ban_seconds=config.ban_seconds,
        )
        self.sip = sip
        self.tcp_trust = TcpTrust(self.core.bindings, sip.distrust_connection)
        self.registered_hosts = RegisteredHosts(self.core.bindings)
        self.qualifier = Qualifier(
            self.core,
            self.sip.send_request,
            self._local_host,
            interval=config.qualify_interval,
            active=lambda: self.sip.started,
        )
        self.handler: RegisterHandler | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._loading = True

    # -- public API for the call engine and the API ----------------------------------------

    def contacts_for(self, number: str) -> list[Binding]:
        """Current bindings of an extension, newest first; reachable ones before others."""
        bindings = self.core.bindings(number)
        bindings.sort(key=lambda b: (not b.reachable, -b.updated_at))
        return bindings

    def _local_host(self) -> str:
        host = self.sip.host
        return "kilopbx.invalid" if host in ("", "0.0.0.0", "::") else host

    def line_status(self, number: str) -> str:
        return REGISTERED if self.core.is_registered(number) else "Unavailable"

    def registered_ip(self, number: str) -> str | None:
        return self.core.registered_ip(number)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        secret, _ = await self.pbx.settings_repo.get_or_create(
            NONCE_SECRET_KEY, secrets.token_hex(32)
        )
        nonces = NonceManager(
            bytes.fromhex(secret),
            lifetime=self.config.nonce_lifetime,
            clock=self.pbx.clock.now,
            max_tracked=50_000,
        )
        self.handler = RegisterHandler(
            self.core,
            self.directory,
            self.config,
            nonces,
            self.bans,
            on_authenticated=self.sip.trust_connection,
            durable=self.durable,
        )
        await self._reload()
        self.directory.on_change(self._directory_changed)
        self.sip.add_source_filter(self.bans.allow)
        self.sip.add_known_peers(self.registered_hosts.__contains__)
        # flood_limit 0 (a load generator behind one address) lifts both limits
        cpu_share = self.config.source_cpu_share if self.config.flood_limit > 0 else 0.0
        self.sip.limit_udp_sources(
            self.pbx.clock.monotonic, messages=self.config.flood_limit, cpu_share=cpu_share
        )
        self.sip.add_request_inspector(self.handler.inspect)
        await self.store.start()
        self.qualifier.start()

    async def stop(self) -> None:
        self.sip.unregister_method("REGISTER")
        await self.qualifier.stop()
        if self._timer is not None:
            self._timer.cancel()
        with contextlib.suppress(Exception):
            await self.store.stop()

    async def _reload(self) -> None:
        directory = self.directory
        stored = await self.store.load()
        if len(directory):
            usable = [
                b
                for b in stored
                if directory.by_number(b.number) or directory.trunk_account(b.number)
            ]
        else:  # no directory loaded (no extensions feature): keep them until they expire
            usable = stored
        lost = self.core.load(usable)
        for number in self.core.numbers():
            self.registered_hosts.changed(number)
        await self.store.delete_expired(self.pbx.clock.now())
        for number in {b.number for b in stored} - {b.number for b in usable}:
            self.store.mark(number)  # extension deleted while we were down
        self._loading = False
        for number in lost:
            self._publish(number, "Unregistered", None)
        log.info(
            "registrar: %d bindings of %d extensions reloaded",
            self.core.count(),
            len(self.core.numbers()),
        )
        self._arm()

    # -- callbacks from the core -----------------------------------------------------------

    def _dirty(self, number: str) -> None:
        self.store.note(number)
        self.tcp_trust.changed(number)
        self.registered_hosts.changed(number)
        self._arm()

    def _status_changed(self, number: str, status: str, ip: str | None) -> None:
        if not self._loading:
            self._publish(number, status, ip)

    def _publish(self, number: str, status: str, ip: str | None) -> None:
        if self.directory.trunk_account(number) and not self.directory.by_number(number):
            return  # an account trunk: its state shows in trunk/list, it is no extension
        self.pbx.bus.publish(ExtensionStatus(extension=number, status=status, registered_ip=ip))

    def _directory_changed(
        self, number: str, old: SipAccount | None, new: SipAccount | None
    ) -> None:
        if new is None:
            self.core.drop(number)
        elif old is None:
            return
        elif old.password != new.password or old.auth_name != new.auth_name:
            self.core.drop(number)
        elif new.max_registrations < old.max_registrations:
            self.core.drop(number, keep=new.max_registrations)

    # -- expiry timer ----------------------------------------------------------------------

    def _arm(self) -> None:
        at = self.core.next_expiry()
        if at is None:
            return
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        delay = max(0.0, at - self.pbx.clock.now())
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        try:
            self.core.expire()
        finally:
            self._arm()


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (SIP, DIRECTORY)
    provides: ClassVar[tuple[Need, ...]] = (REGISTRATIONS, LINE_STATUS, SIP_METHODS, SIP_AUTH)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        registry = pbx.registry
        self.registrar = Registrar(
            pbx,
            RegistrarConfig.load(pbx.settings.extra),
            sip=registry.get(SIP),
            directory=registry.get(DIRECTORY),
        )

    async def start(self) -> None:
        await self.registrar.start()
        registry = self.pbx.registry
        assert self.registrar.handler is not None
        handler = self.registrar.handler
        registry.contribute(
            SIP_METHODS, SipMethod("REGISTER", handler, stateless=handler.answer_statelessly)
        )
        registry.provide(REGISTRATIONS, self.registrar)
        registry.contribute(LINE_STATUS, self.registrar.line_status)
        registry.provide(SIP_AUTH, self.registrar.handler.auth)

    async def stop(self) -> None:
        await self.registrar.stop()
