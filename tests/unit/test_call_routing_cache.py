"""Call routing keeps its compiled rules until one of their tables is written (a
commit, not a rollback), and answers inbound and outbound questions from memory:
permissions, DOD preference, business hours at the moment of the call."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kilopbx.apps.routes.call_routing import CallRouter, DodBinding, dod_for
from kilopbx.apps.routes.inbound_service import InboundInput, InboundRouteService
from kilopbx.apps.routes.models import OutboundRoute
from kilopbx.apps.routes.outbound_service import OutboundInput, OutboundRouteService
from kilopbx.apps.timeconditions.models import TimeCondition
from kilopbx.apps.trunks.models import Trunk
from kilopbx.apps.trunks.other_objects import OtherObjects
from kilopbx.apps.trunks.service import TrunkInput, TrunkService
from kilopbx.events.bus import EventBus
from kilopbx.store import table_changes
from kilopbx.store.database import create_engine, migrate, session_factory, write_transaction


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await migrate(engine)
    yield session_factory(engine)
    await engine.dispose()


def trunk(name: str, port: int, **extra: str) -> TrunkInput:
    values = {"name": name, "host": "127.0.0.1", "port": str(port), "domain": "p.test"}
    return TrunkInput("peer", values | extra)


async def test_rules_are_reloaded_only_after_a_committed_write(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    trunks = TrunkService(sessions, EventBus(), OtherObjects(), max_trunks=5)
    routes = OutboundRouteService(sessions, OtherObjects(), max_routes=5)
    router = CallRouter(sessions)
    await trunks.add(trunk("T1", 5071))
    await routes.add(
        OutboundInput(name="Out", prefix="9.", strip="1", trunks="T1", extensions="all")
    )
    first = await router.tables()
    assert await router.tables() is first  # no write: no query
    before = table_changes.generation()
    with pytest.raises(RuntimeError):
        async with write_transaction(sessions) as db:
            await db.execute(update(Trunk).values(port=5099))
            raise RuntimeError("rolled back")
    assert table_changes.generation() == before and await router.tables() is first
    async with write_transaction(sessions) as db:  # a bulk UPDATE is seen too
        await db.execute(update(Trunk).values(port=5072))
    assert table_changes.generation() > before
    assert await router.tables() is not first


async def test_outbound_answers_say_whether_the_caller_is_permitted(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    trunks = TrunkService(sessions, EventBus(), OtherObjects(), max_trunks=5)
    routes = OutboundRouteService(sessions, OtherObjects(), max_routes=5)
    router = CallRouter(sessions)
    await trunks.add(trunk("T1", 5071))  # DOD bindings need extensions: see the e2e tests
    await trunks.add(trunk("T2", 5072))
    await routes.add(
        OutboundInput(name="Out", prefix="9.", strip="1", trunks="T1,T2", extensions="all")
    )
    await routes.add(OutboundInput(name="Night", prefix="8.", trunks="T2", extensions="all"))
    async with write_transaction(sessions) as db:  # permit the "Night" route to nobody
        await db.execute(
            update(OutboundRoute).where(OutboundRoute.name == "Night").values(all_extensions=False)
        )
    choice = await router.outbound("2001", frozenset(), "9123")
    assert choice is not None and choice.allowed and choice.number == "123"
    assert choice.dod == () and choice.trunks == ("T1", "T2")
    assert choice.caller_id_on("T2") == ("", "")
    refused = await router.outbound("2002", frozenset(), "8123")
    assert refused is not None and not refused.allowed
    assert await router.outbound("2001", frozenset(), "123") is None


def test_dod_prefers_the_extension_over_its_group() -> None:
    bindings = (
        DodBinding("group", "", 7, "111", "Sales"),
        DodBinding("extension", "2001", None, "222", "Own"),
    )
    assert dod_for(bindings, "2001", frozenset({7})) == bindings[1]
    assert dod_for(bindings, "2002", frozenset({7})) == bindings[0]
    assert dod_for(bindings, "2002", frozenset()) is None


async def test_inbound_hours_are_judged_at_the_moment_of_each_call(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    trunks = TrunkService(sessions, EventBus(), OtherObjects(), max_trunks=5)
    inbound = InboundRouteService(sessions, OtherObjects(), max_routes=5)
    router = CallRouter(sessions)
    await trunks.add(trunk("T1", 5071))
    route = await inbound.add(InboundInput(name="Office", trunks="T1", dest_type="hangup"))
    async with write_transaction(sessions) as db:
        condition = TimeCondition(
            name="Weekdays", timezone="UTC", weekly="mon-fri 09:00-17:00", exceptions=""
        )
        db.add(condition)
        await db.flush()
        await db.execute(
            update(type(route))
            .where(type(route).id == route.id)
            .values(time_condition_id=condition.id, off_hours_dest_type="extension",
                    off_hours_dest="2003")
        )  # fmt: skip
    monday_noon = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC).timestamp()
    sunday = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC).timestamp()
    open_ = await router.inbound("T1", "1", "2", monday_noon)
    closed = await router.inbound("T1", "1", "2", sunday)
    assert open_ is not None and open_.dest_type == "hangup"
    assert closed is not None and (closed.dest_type, closed.dest) == ("extension", "2003")


async def test_an_ivr_dials_out_through_its_own_routes_without_permissions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    trunks = TrunkService(sessions, EventBus(), OtherObjects(), max_trunks=5)
    routes = OutboundRouteService(sessions, OtherObjects(), max_routes=5)
    router = CallRouter(sessions)
    await trunks.add(trunk("T1", 5071))
    await routes.add(OutboundInput(name="Intl", prefix="9.", strip="1", prepend="00", trunks="T1"))
    await routes.add(OutboundInput(name="Local", prefix="9.", trunks="T1", extensions="all"))
    await routes.add(OutboundInput(name="Secret", prefix="7.", trunks="T1", extensions="all"))
    async with write_transaction(sessions) as db:
        await db.execute(
            update(OutboundRoute).where(OutboundRoute.name == "Secret").values(pin="12")
        )
    # "Intl" permits no extension: the IVR's setting is the permission
    choice = await router.outbound_through(frozenset({"Intl"}), "9441632")
    assert choice is not None and (choice.route, choice.number) == ("Intl", "00441632")
    assert choice.trunks == ("T1",)
    assert (await router.outbound_through(frozenset({"Local"}), "9441632")).route == "Local"  # type: ignore[union-attr]
    assert (await router.outbound_through(frozenset(), "9441632")).route == "Intl"  # type: ignore[union-attr]
    assert await router.outbound_through(frozenset({"Intl"}), "5551") is None  # no match
    assert await router.outbound_through(frozenset({"Nope"}), "9441632") is None
    assert await router.outbound_through(frozenset(), "7123") is None  # a route with a PIN
