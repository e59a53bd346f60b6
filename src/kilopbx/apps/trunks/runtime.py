"""The trunks' runtime: what the call engine asks about trunks (`TrunkLines`), and the
live state `trunk/list` shows.

It keeps a snapshot of every trunk (`TrunkConfig`) and one worker per enabled trunk:
a `RegisterClient` for a register trunk (REGISTER to the provider), a `PeerProbe` for
a peer trunk (OPTIONS keep-alive); account trunks are registered to *us* and are read
from the registrar. After every trunk change (the service's ConfigChange) it reloads
the snapshots and starts, restarts or stops workers for what changed, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from kilopbx.apps.trunks.line_config import TrunkConfig, ip_literal, split_proxy
from kilopbx.apps.trunks.resolver import SipResolver
from kilopbx.apps.trunks.source_index import SourceIndex
from kilopbx.engine.trunking import TrunkProfile, TrunkTarget

log = logging.getLogger(__name__)

UNKNOWN = "Unknown"
REGISTERING = "Registering"
REGISTERED = "Registered"
FAILURE = "Failure"
DEAD_SECONDS = 60.0  # a target a call found unreachable is tried last this long
FRESH_WAIT = 2.0  # seconds a call waits at most for a trunk change to be loaded


class LineWorker(Protocol):
    """What keeps one trunk alive: registration or keep-alive."""

    @property
    def status(self) -> str: ...

    @property
    def addresses(self) -> frozenset[tuple[str, int]]:
        """The provider's (address, port) pairs it talks to, for `identify`."""
        ...

    @property
    def preferred(self) -> TrunkTarget | None:
        """The target that answered last (where a register trunk is registered)."""
        ...

    def start(self) -> None: ...

    async def stop(self, *, farewell: bool) -> None:
        """Stop; `farewell`: unregister first (trunk deleted, disabled or PBX stopping)."""
        ...


WorkerFactory = Callable[[TrunkConfig], LineWorker | None]


class AccountLines(Protocol):
    """Where the remote side of an account trunk registered from (the registrar)."""

    def account_contacts(self, username: str) -> list[TrunkTarget]: ...


class _NoAccounts:
    def account_contacts(self, username: str) -> list[TrunkTarget]:
        return []


class TrunkRuntime:
    """Implements `kilopbx.engine.trunking.TrunkLines`."""

    def __init__(
        self,
        resolver: SipResolver,
        clock: Callable[[], float],
        *,
        load: Callable[[], Awaitable[list[TrunkConfig]]],
        make_worker: WorkerFactory,
        accounts: AccountLines | None = None,
        on_apply: Callable[[list[TrunkConfig]], None] | None = None,
    ) -> None:
        self.resolver = resolver
        self._clock = clock
        self._load = load
        self._make_worker = make_worker
        self.accounts: AccountLines = accounts or _NoAccounts()
        self._on_apply = on_apply
        self._configs: dict[int, TrunkConfig] = {}
        self._by_name: dict[str, TrunkConfig] = {}
        self._by_host: dict[str, TrunkProfile] = {}
        self._accounts: list[TrunkConfig] = []
        self._sources = SourceIndex()
        self._workers: dict[int, tuple[TrunkConfig, LineWorker]] = {}
        self._dead: dict[tuple[str, TrunkTarget], float] = {}
        self._reload_wanted = asyncio.Event()
        self._fresh = asyncio.Event()  # set while the snapshots reflect every change
        self._reloader: asyncio.Task[None] | None = None
        self._stopping = False
        self._farewells: set[asyncio.Task[None]] = set()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.reload()
        self._reloader = asyncio.get_running_loop().create_task(self._reload_loop())

    async def stop(self) -> None:
        """Unregister every register trunk and stop every worker (before SIP stops)."""
        self._stopping = True
        if self._reloader is not None:
            self._reloader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reloader
            self._reloader = None
        workers = [worker for _, worker in self._workers.values()]
        self._workers.clear()
        await asyncio.gather(*(w.stop(farewell=True) for w in workers), return_exceptions=True)
        await self.settled()

    def changed(self) -> None:
        """A trunk was added, changed or deleted: reload soon (several changes, once)."""
        if not self._stopping:
            self._fresh.clear()
            self._reload_wanted.set()

    async def _reload_loop(self) -> None:
        while True:
            await self._reload_wanted.wait()
            self._reload_wanted.clear()
            try:
                await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reloading trunks failed")
            if not self._reload_wanted.is_set():
                self._fresh.set()

    async def fresh(self) -> None:
        """Wait (briefly) until a change just committed is loaded: a call placed right
        after `trunk/add_siptrunk` sees the new trunk."""
        if not self._fresh.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fresh.wait(), FRESH_WAIT)

    async def reload(self) -> None:
        configs = await self._load()
        self.apply(configs)
        if not self._reload_wanted.is_set():
            self._fresh.set()

    def apply(self, configs: list[TrunkConfig]) -> None:
        """Make the workers match `configs`; stopping ones unregister in the background."""
        self._configs = {c.id: c for c in configs}
        self._by_name = {c.name: c for c in configs}
        self._by_host = {}
        for config in sorted(configs, key=lambda c: c.id):
            for name in (config.host, config.domain):
                key = name.lower().rstrip(".")
                if config.enabled and key:
                    self._by_host.setdefault(key, config.profile)
        self._accounts = [c for c in configs if c.kind == "account" and c.enabled]
        self._sources.stale = True
        if self._on_apply is not None:
            self._on_apply(configs)
        leaving: dict[int, LineWorker] = {}
        for trunk_id, (old, worker) in list(self._workers.items()):
            new = self._configs.get(trunk_id)
            if new is None or not new.enabled or not _same_worker(old, new):
                del self._workers[trunk_id]
                leaving[trunk_id] = worker
            else:
                self._workers[trunk_id] = (new, worker)  # a rename, a DOD change ...
        for config in configs:
            if config.enabled and config.id not in self._workers:
                made = self._make_worker(config)
                if made is not None:
                    self._workers[config.id] = (config, made)
                    if config.id not in leaving:
                        made.start()
        for trunk_id, worker in leaving.items():
            entry = self._workers.get(trunk_id)
            self._spawn(self._hand_over(trunk_id, worker, None if entry is None else entry[1]))

    async def _hand_over(
        self, trunk_id: int, leaving: LineWorker, successor: LineWorker | None
    ) -> None:
        """Stop a worker (un-REGISTER), then start its successor, if any: a late
        un-REGISTER for the same Contact would remove the new binding (RFC 3261
        §10.3, a zero expiry with another Call-ID removes the binding)."""
        try:
            await leaving.stop(farewell=True)
        finally:
            entry = self._workers.get(trunk_id)
            current = None if entry is None else entry[1]
            if successor is not None and current is successor and not self._stopping:
                successor.start()

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coroutine
            except Exception:
                log.exception("stopping a trunk worker failed")

        task = asyncio.get_running_loop().create_task(run())
        self._farewells.add(task)
        task.add_done_callback(self._farewells.discard)

    async def settled(self) -> None:
        """Wait for the workers being stopped in the background (their un-REGISTERs)."""
        while self._farewells:
            await asyncio.gather(*self._farewells, return_exceptions=True)

    # -- state for trunk/list -----------------------------------------------------------

    def status(self, trunk_id: int, kind: str) -> str:
        """The live state of an enabled trunk (the service says Disable itself)."""
        config = self._configs.get(trunk_id)
        if config is None:  # added a moment ago, not loaded yet
            return REGISTERING if kind == "register" else UNKNOWN
        if config.kind == "account":
            return REGISTERED if self.accounts.account_contacts(config.username) else UNKNOWN
        entry = self._workers.get(trunk_id)
        if entry is None:
            return REGISTERING if kind == "register" and config.enabled else UNKNOWN
        return entry[1].status

    # -- TrunkLines ---------------------------------------------------------------------

    def profile(self, name: str) -> TrunkProfile | None:
        config = self._by_name.get(name)
        return None if config is None else config.profile

    def _index(self) -> SourceIndex:
        index = self._sources
        if index.stale:
            index.rebuild(
                (config, worker.addresses)
                for trunk_id, (config, worker) in self._workers.items()
                if trunk_id in self._configs
            )
        return index

    def knows_host(self, host: str) -> bool:
        """``host`` (as a socket spells it) is an address of a configured trunk: the
        SIP service's flood defences never mute it on volume."""
        return self._index().knows_host(host)

    def identify(self, host: str, port: int) -> TrunkProfile | None:
        found = self._index().find(host, port)
        if found is not None:
            return found
        address = ip_literal(host) or host
        for config in self._accounts:
            contacts = self.accounts.account_contacts(config.username)
            if any(c.host == address and c.port == port for c in contacts):
                return config.profile
        return None

    def addresses_changed(self) -> None:
        """A worker resolved its host to other addresses: `identify` re-reads them."""
        self._sources.stale = True

    def claimed(self, host: str) -> TrunkProfile | None:
        """The enabled trunk whose provider is named `host` (its host or domain, as an
        INVITE's From may say): a request claiming it that `identify` did not place
        can be refused."""
        return self._by_host.get(host.lower().rstrip("."))

    async def targets(self, name: str) -> Sequence[TrunkTarget]:
        await self.fresh()
        config = self._by_name.get(name)
        if config is None or not config.enabled:
            return []
        if config.kind == "account":
            found = self.accounts.account_contacts(config.username)
        else:
            found = await self.resolve(config)
            entry = self._workers.get(config.id)
            preferred = None if entry is None else entry[1].preferred
            if preferred in found:  # calls go where the registration is
                found = [preferred, *(t for t in found if t != preferred)]
        now = self._clock()
        alive = [t for t in found if self._dead.get((name, t), 0.0) <= now]
        return alive + [t for t in found if t not in alive]

    def report(self, name: str, target: TrunkTarget, reachable: bool) -> None:
        key = (name, target)
        if reachable:
            self._dead.pop(key, None)
        else:
            if len(self._dead) > 4096:
                now = self._clock()
                self._dead = {k: t for k, t in self._dead.items() if t > now}
            self._dead[key] = self._clock() + DEAD_SECONDS

    async def resolve(self, config: TrunkConfig) -> list[TrunkTarget]:
        """Where to send to a register or peer trunk: its outbound proxy if it has
        one, else its host (RFC 3263)."""
        if config.outbound_proxy:
            host, port = split_proxy(config.outbound_proxy)
            return await self.resolver.resolve(host, port or 5060, config.transport)
        return await self.resolver.resolve(config.host, config.port, config.transport)

    def config(self, name: str) -> TrunkConfig | None:
        return self._by_name.get(name)


def _same_worker(old: TrunkConfig, new: TrunkConfig) -> bool:
    if old.kind == "register":
        return old.registration_key() == new.registration_key()
    return old.probe_key() == new.probe_key()
