"""A first `TrunkLines` (the engine's interface) for trunks whose host is an IP address.

It keeps the enabled trunks in memory (reloaded after any write to the trunk tables,
seen through `kilopbx.store.table_changes`), places an inbound request by its source
address and port, and sends a call to the trunk's address. No registration, DNS or
keep-alive: the trunk runtime replaces it with one that has them; a trunk with a host
name is taken as not reachable here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.trunks.models import Trunk
from kilopbx.engine.trunking import TrunkProfile, TrunkTarget
from kilopbx.store import table_changes

log = logging.getLogger(__name__)


def profile_of(trunk: Trunk) -> TrunkProfile:
    dids = []
    for entry in filter(None, trunk.did_setting.split(",")):
        label, _, number = entry.rpartition("-")
        dids.append((label, number))
    return TrunkProfile(
        name=trunk.name,
        kind=trunk.kind,  # type: ignore[arg-type]  # validated on the way in
        domain=trunk.domain,
        username=trunk.username,
        auth_name=trunk.auth_name,
        password=trunk.password,
        from_user=trunk.from_user,
        caller_id_number=trunk.caller_id_number,
        caller_id_name=trunk.caller_id_name,
        codecs=tuple(c for c in trunk.codecs.split(",") if c),
        dtmf_mode=trunk.dtmf_mode,
        max_channels=trunk.max_channels,
        dids=tuple(dids),
    )


def _ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class StaticTrunkLines:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._generation = -1
        self._profiles: dict[str, TrunkProfile] = {}
        self._targets: dict[str, TrunkTarget] = {}
        self._by_source: dict[tuple[str, int], str] = {}
        self._by_host: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        table_changes.watch()

    async def load(self) -> None:
        async with self._sessions() as db:
            trunks = [t for t in (await db.execute(select(Trunk))).scalars() if t.enabled]
        self._profiles = {t.name: profile_of(t) for t in trunks}
        self._targets, self._by_source, self._by_host = {}, {}, {}
        for trunk in trunks:
            for name in (trunk.host, trunk.domain):
                if name:
                    self._by_host.setdefault(name.lower(), trunk.name)
            ip = _ip(trunk.host)
            if ip is None or trunk.kind == "account":
                continue
            self._targets[trunk.name] = TrunkTarget(ip, trunk.port or 5060, trunk.transport)
            self._by_source.setdefault((ip, trunk.port or 5060), trunk.name)

    async def refresh(self) -> None:
        generation = table_changes.generation()
        if generation != self._generation:
            await self.load()
            self._generation = generation

    def changed(self) -> None:
        """A trunk table changed: reload in the background (inbound requests are
        placed with what is loaded; outbound calls wait for `refresh`)."""
        with contextlib.suppress(RuntimeError):  # no loop: a test's synchronous commit
            task = asyncio.get_running_loop().create_task(self.refresh())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def profile(self, name: str) -> TrunkProfile | None:
        return self._profiles.get(name)

    def identify(self, host: str, port: int) -> TrunkProfile | None:
        name = self._by_source.get((_ip(host) or host, port))
        return None if name is None else self._profiles.get(name)

    def claimed(self, host: str) -> TrunkProfile | None:
        name = self._by_host.get(host.lower())
        return None if name is None else self._profiles.get(name)

    async def targets(self, name: str) -> Sequence[TrunkTarget]:
        await self.refresh()
        target = self._targets.get(name)
        return [] if target is None else [target]

    def report(self, name: str, target: TrunkTarget, reachable: bool) -> None:
        if not reachable:
            log.info("trunk %s: %s:%d did not answer", name, target.host, target.port)
