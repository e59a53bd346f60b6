"""The trunk and route services on a real (SQLite) store: events after the commit,
references between trunks and routes, and routing that sees every change at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.routes.call_routing import CallRouter
from kilopbx.apps.routes.inbound_service import InboundInput, InboundRouteService
from kilopbx.apps.routes.outbound_service import OutboundInput, OutboundRouteService
from kilopbx.apps.trunks.models import Trunk
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.service import TrunkInput, TrunkService
from kilopbx.core.errors import DomainError
from kilopbx.events.bus import EventBus
from kilopbx.events.types import ConfigChange, Event
from kilopbx.store.database import create_engine, migrate, session_factory


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


def peer(name: str) -> TrunkInput:
    return TrunkInput("peer", {"name": name, "host": "10.0.0.1", "domain": "10.0.0.1"})


async def test_config_change_follows_each_committed_change_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bus = EventBus()
    events: list[tuple[str, str]] = []

    def record(event: Event) -> None:
        if isinstance(event, ConfigChange):
            events.append((event.key, event.operation))

    bus.subscribe(record)
    service = TrunkService(sessions, bus, OtherObjects(), max_trunks=5)

    async def stored(name: str) -> bool:
        async with sessions() as db:
            return await db.scalar(select(Trunk.id).where(Trunk.name == name)) is not None

    trunk = await service.add(peer("Carrier"))
    assert events == [("Carrier", "add")] and await stored("Carrier")
    await service.update(trunk.id, TrunkInput("peer", {"name": "Carrier2"}))
    assert events[1:] == [("Carrier", "del"), ("Carrier2", "add")] and await stored("Carrier2")
    for refused in (TrunkInput("peer", {"port": "0"}), TrunkInput("register", {})):
        with pytest.raises(DomainError):
            await service.update(trunk.id, refused)
    with pytest.raises(DomainError):
        await service.add(peer("Carrier2"))
    assert len(events) == 3  # refused changes publish nothing
    await service.update_options(trunk.id, {"codecs": "alaw"})
    await service.delete(None)
    assert events[3:] == [("Carrier2", "update"), ("Carrier2", "del")]
    assert not await stored("Carrier2")


async def test_routing_sees_each_change_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    trunks = TrunkService(sessions, EventBus(), OtherObjects(), max_trunks=5)
    inbound = InboundRouteService(sessions, OtherObjects(), max_routes=5)
    outbound = OutboundRouteService(sessions, OtherObjects(), max_routes=5)
    router = CallRouter(sessions)
    first = await trunks.add(peer("T1"))
    await trunks.add(peer("T2"))
    route = await inbound.add(InboundInput(name="All", trunks="T1", dest_type="hangup"))
    assert (await router.inbound("T1", "123", "456", 0.0)) is not None
    assert (await router.inbound("T2", "123", "456", 0.0)) is None
    await inbound.update(route.id, InboundInput(trunks="T2"))
    assert (await router.inbound("T2", "123", "456", 0.0)) is not None
    await outbound.add(
        OutboundInput(name="Out", prefix="9.", strip="1", trunks="T1,T2", extensions="all")
    )
    choice = await router.outbound("2001", frozenset(), "9123")
    assert choice is not None and (choice.number, choice.trunks) == ("123", ("T1", "T2"))
    await trunks.update_options(first.id, {"enabled": "no"})  # a disabled trunk is skipped
    choice = await router.outbound("2001", frozenset(), "9123")
    assert choice is not None and choice.trunks == ("T2",)
    await trunks.delete([first.id])
    found = await outbound.find(None)
    assert [link.trunk.name for link in found[0].trunk_links] == ["T2"]
