"""Trunks feature: the trunk service, its endpoints, its part in extension deletes, and
the trunks' runtime (registration, keep-alive, RFC 3263), published as TRUNK_LINES."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import noload

from kilopbx.apps.extension_groups.service import EXTENSION_GROUPS
from kilopbx.apps.extensions.service import EXTENSIONS
from kilopbx.apps.numberplan import NUMBERS
from kilopbx.apps.trunks import endpoints  # noqa: F401  (registers the trunk endpoints)
from kilopbx.apps.trunks.accounts import RegisteredAccounts, sync_accounts
from kilopbx.apps.trunks.dns_lookup import make_lookup, parse_nameserver
from kilopbx.apps.trunks.keepalive import PeerProbe
from kilopbx.apps.trunks.line_config import TrunkConfig, config_of
from kilopbx.apps.trunks.models import Trunk
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.register_client import RegisterClient
from kilopbx.apps.trunks.resolver import SipResolver
from kilopbx.apps.trunks.runtime import LineWorker, TrunkRuntime
from kilopbx.apps.trunks.runtime_config import TrunkRuntimeConfig
from kilopbx.apps.trunks.service import TRUNKS, TrunkService
from kilopbx.core.registry import Need
from kilopbx.engine.routing import DIRECTORY
from kilopbx.engine.sip_service import SIP
from kilopbx.engine.trunking import TRUNK_LINES
from kilopbx.events.types import ConfigChange, Event

if TYPE_CHECKING:
    from kilopbx.engine.host import Host


class Feature:
    needs: ClassVar[tuple[Need, ...]] = (DIRECTORY, NUMBERS, EXTENSIONS, EXTENSION_GROUPS, SIP)
    provides: ClassVar[tuple[Need, ...]] = (TRUNKS, TRUNK_LINES)

    def __init__(self, pbx: Host) -> None:
        self.pbx = pbx
        self.other_objects = OtherObjects(pbx.registry.get(DIRECTORY), pbx.registry.get(NUMBERS))
        max_trunks = pbx.settings.max_trunks
        service = TrunkService(pbx.db, pbx.bus, self.other_objects, max_trunks=max_trunks)
        self.service = pbx.registry.provide(TRUNKS, service)
        self.config = TrunkRuntimeConfig.load(pbx.settings.extra.get("trunks"))
        self.sip = pbx.registry.get(SIP)
        clock = pbx.clock.monotonic
        resolver = SipResolver(make_lookup(parse_nameserver(self.config.nameserver)), clock)
        self.directory = pbx.registry.get(DIRECTORY)
        self.runtime = TrunkRuntime(
            resolver,
            clock,
            load=self._load,
            make_worker=self._make_worker,
            accounts=RegisteredAccounts(pbx.registry),
            on_apply=lambda configs: sync_accounts(self.directory, configs),
        )
        self._unsubscribe = pbx.bus.subscribe(self._on_event)
        service.status_provider = lambda trunk: self.runtime.status(trunk.id, trunk.kind)
        pbx.registry.provide(TRUNK_LINES, self.runtime)

    async def start(self) -> None:
        extensions = self.pbx.registry.get(EXTENSIONS)
        extensions.on_extensions_deleted(self.service.forget_extensions)
        extensions.on_extension_renumbered(self.service.renumber_extension)
        self.pbx.registry.get(EXTENSION_GROUPS).on_group_deleted(self.service.forget_group)
        self.sip.before_stop(self.runtime.stop)
        self.sip.add_known_peers(self.runtime.knows_host)
        await self.runtime.start()

    async def stop(self) -> None:
        self._unsubscribe()
        await self.runtime.stop()

    async def _load(self) -> list[TrunkConfig]:
        async with self.pbx.db() as db:  # the runtime needs no DOD bindings
            rows = await db.execute(select(Trunk).options(noload(Trunk.dod_bindings)))
            return [config_of(trunk) for trunk in rows.scalars()]

    def _make_worker(self, config: TrunkConfig) -> LineWorker | None:
        clock = self.pbx.clock.monotonic
        resolve = self.runtime.resolve
        if config.kind == "register":
            return RegisterClient(
                config, self.sip, resolve, self.config, clock, self.runtime.addresses_changed
            )
        if config.kind == "peer":
            return PeerProbe(
                config, self.sip, resolve, self.config, clock, self.runtime.addresses_changed
            )
        return None

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ConfigChange) and event.object_type == "trunk":
            self.runtime.changed()
