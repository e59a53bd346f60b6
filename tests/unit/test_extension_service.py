"""The extension service against a real (temporary SQLite) store, without HTTP: the
directory, monitor set and events it must keep current, and its hooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kilopbx.apps.extensions.defaults import DEFAULT_NUMBERS, create_default_extensions
from kilopbx.apps.extensions.models import Extension
from kilopbx.apps.extensions.service import NUMBER_KIND, ExtensionService, extension_holder
from kilopbx.apps.extensions.wire import number_order, summary_wire
from kilopbx.apps.numberplan import NUMBER_OWNERS, NumberOwner, NumberPlan
from kilopbx.core.errors import DomainError
from kilopbx.core.registry import Registry
from kilopbx.engine.directory import AccountDirectory, Forward
from kilopbx.events.bus import EventBus
from kilopbx.events.types import ConfigChange, Event
from kilopbx.store.database import create_engine, migrate, session_factory
from kilopbx.store.settings_repo import SettingsRepo

PASSWORD = "Tq7wLp3xVz9bKd4M"


@pytest.fixture
async def pbx(tmp_path: Path) -> AsyncIterator[Any]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'kilopbx.db'}")
    await migrate(engine)
    db = session_factory(engine)
    registry = Registry()
    owner = NumberOwner(NUMBER_KIND, extension_holder)
    registry.contribute(NUMBER_OWNERS, owner)
    numbers = NumberPlan(registry, db)
    events: list[Event] = []
    bus = EventBus()
    bus.subscribe(events.append)
    yield SimpleNamespace(
        db=db,
        directory=AccountDirectory(),
        numbers=numbers,
        bus=bus,
        settings_repo=SettingsRepo(db),
        published=events,
    )
    await engine.dispose()


def changes(pbx: Any) -> list[tuple[str, str]]:
    return [(e.key, e.operation) for e in pbx.published if isinstance(e, ConfigChange)]


def fields(name: str = "Ana Costa", auth: str = "acosta") -> dict[str, Any]:
    return {"display_name": name, "auth_name": auth, "sip_password": PASSWORD}


async def test_add_fills_directory_and_announces(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", {**fields(), "max_registrations": 3}, login_password=None)
    account = pbx.directory.by_number("2101")
    assert account is not None
    assert (account.auth_name, account.password) == ("acosta", PASSWORD)
    assert (account.max_registrations, account.display_name) == (3, "Ana Costa")
    assert account.status_monitored
    assert pbx.directory.by_auth_name("acosta") is account
    assert changes(pbx) == [("2101", "add")]
    assert await service.count() == 1


async def test_update_refreshes_directory_and_skips_no_op_events(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", fields(), login_password=None)
    await service.update("2101", {"auth_name": "ana2101"}, login_password=None)
    assert pbx.directory.by_auth_name("ana2101") is not None
    assert pbx.directory.by_auth_name("acosta") is None
    await service.update("2101", {"auth_name": "ana2101"}, login_password=None)
    assert changes(pbx) == [("2101", "add"), ("2101", "update")]


async def test_failed_update_changes_nothing(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", fields(), login_password=None)
    with pytest.raises(DomainError):
        await service.update("2101", {"sip_password": "weak"}, login_password=None)
    assert pbx.directory.by_number("2101").password == PASSWORD
    assert changes(pbx) == [("2101", "add")]


async def test_status_monitoring(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", fields(), login_password=None)
    assert service.is_monitored("2101")
    assert service.is_monitored("9999")  # default: all
    await service.set_monitoring(["2101"], False)
    assert not service.is_monitored("2101")
    assert not pbx.directory.by_number("2101").status_monitored
    reloaded = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await reloaded.load()
    assert not reloaded.is_monitored("2101")


async def test_renumber_moves_account_and_runs_hooks(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    seen: list[tuple[str, str]] = []

    async def renumbered(db: AsyncSession, old: str, new: str) -> None:
        assert isinstance(db, AsyncSession)
        seen.append((old, new))

    service.on_extension_renumbered(renumbered)
    await service.add("2101", fields(), login_password=None)
    await service.renumber("2101", "2201")
    assert pbx.directory.by_number("2101") is None
    assert pbx.directory.by_number("2201") is not None
    assert seen == [("2101", "2201")]
    assert changes(pbx)[1:] == [("2101", "del"), ("2201", "add")]


async def test_delete_runs_hooks_in_the_transaction(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    single: list[str] = []
    batches: list[list[str]] = []

    async def deleted(_db: AsyncSession, number: str) -> None:
        single.append(number)

    async def deleted_batch(_db: AsyncSession, numbers: list[str]) -> None:
        batches.append(sorted(numbers))

    service.on_extension_deleted(deleted)
    service.on_extensions_deleted(deleted_batch)
    await service.add("2101", fields(), login_password=None)
    await service.add("2102", fields("Rui", "rui"), login_password=None)
    assert await service.delete(None) in (["2101", "2102"], ["2102", "2101"])
    assert sorted(single) == ["2101", "2102"]
    assert batches == [["2101", "2102"]]
    assert len(pbx.directory) == 0
    assert ("2101", "del") in changes(pbx)


async def test_failing_hook_aborts_the_delete(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)

    async def refuse(_db: AsyncSession, number: str) -> None:
        raise DomainError("extensions.invalid", detail=f"{number} is still needed")

    service.on_extension_deleted(refuse)
    await service.add("2101", fields(), login_password=None)
    with pytest.raises(DomainError):
        await service.delete(["2101"])
    assert await service.count() == 1
    assert pbx.directory.by_number("2101") is not None


async def test_load_fills_the_directory_at_start(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", fields(), login_password=None)
    await service.add("2102", fields("Rui", "rui"), login_password=None)
    pbx.directory = AccountDirectory()
    fresh = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await fresh.load()
    assert sorted(pbx.directory.numbers()) == ["2101", "2102"]


async def test_defaults_are_created_once(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await create_default_extensions(pbx, service)
    assert sorted(pbx.directory.numbers()) == list(DEFAULT_NUMBERS)
    await service.delete(None)
    await create_default_extensions(pbx, service)
    assert await service.count() == 0


# -- extension/list's rendered entries follow every write ------------------------------------


async def listed_in_database(pbx: Any) -> bytes:
    """extension/list as the database has it (no live status), rendered the plain way."""
    async with pbx.db() as db:
        rows = sorted(await db.scalars(select(Extension)), key=lambda e: number_order(e.number))
    extlist = [summary_wire(ext, "Unavailable") for ext in rows]
    return json.dumps({"status": "Success", "extlist": extlist}, separators=(",", ":")).encode()


async def test_the_list_follows_every_write(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    generations: list[int] = []

    async def listed() -> list[str]:
        body = service.listing.body(service.generation, service.in_order, [])
        assert body == await listed_in_database(pbx)
        generations.append(service.generation)
        return [
            f"{e['number']} {e['username']} {e['agentid']}" for e in json.loads(body)["extlist"]
        ]

    assert await listed() == []
    await service.add("2101", fields(), login_password=None)
    await service.add("210", fields("Rui", "rui"), login_password=None)
    assert await listed() == ["210 Rui ", "2101 Ana Costa "]
    await service.update("2101", {"display_name": "Ana Maria"}, login_password=None)
    assert await listed() == ["210 Rui ", "2101 Ana Maria "]
    await service.update("2101", {"agent_id": "77"}, login_password=None)
    assert await listed() == ["210 Rui ", "2101 Ana Maria 77"]
    await service.renumber("210", "2105")
    assert await listed() == ["2101 Ana Maria 77", "2105 Rui "]
    # writes of fields the list does not show still move the generation: nothing to miss
    await service.set_monitoring(["2101"], monitored=False)
    await service.set_call_waiting(None, waiting=True)
    await service.set_hide_number(["2105"], hidden=True)
    await service.set_pickup_group(None, "sales")
    assert await listed() == ["2101 Ana Maria 77", "2105 Rui "]
    forward = {"always_forward": True, "always_forward_to": "extension"}
    await service.update("2101", {**forward, "always_forward_extension": "2105"}, None)
    await service.delete(["2105"])  # also sends 2101's forwarding back to its voicemail
    assert await listed() == ["2101 Ana Maria 77"]
    forwarding = service.get("2101")
    assert forwarding is not None and forwarding.always_forward_extension == ""
    await service.add("2102", fields("Eva", "eva"), login_password=None)
    await service.delete(None)
    assert await listed() == []
    assert generations == sorted(set(generations))  # moved at every step


async def test_a_started_service_lists_what_the_database_holds(pbx: Any) -> None:
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", fields(), login_password=None)
    await service.add("2102", fields("Rui", "rui"), login_password=None)
    fresh = ExtensionService(pbx, AccountDirectory(), pbx.numbers)
    assert json.loads(fresh.listing.body(fresh.generation, fresh.in_order, []))["extlist"] == []
    await fresh.load()
    body = fresh.listing.body(fresh.generation, fresh.in_order, [])
    assert body == await listed_in_database(pbx)
    assert [e["number"] for e in json.loads(body)["extlist"]] == ["2101", "2102"]


async def test_forwards_moved_by_a_delete_or_renumber_reach_the_directory(pbx: Any) -> None:
    """The call engine reads forwarding from the directory: a forward to a deleted
    extension falls back to voicemail there too, one to a renumbered one follows it."""
    service = ExtensionService(pbx, pbx.directory, pbx.numbers)
    await service.add("2101", fields(), login_password=None)
    await service.add("2102", fields("Rui", "rui"), login_password=None)
    await service.add("2103", fields("Eva", "eva"), login_password=None)
    forward = {"always_forward": True, "always_forward_to": "extension"}
    await service.update("2101", {**forward, "always_forward_extension": "2102"}, None)
    await service.update("2103", {**forward, "always_forward_extension": "2102"}, None)

    def forwards_to(number: str) -> Forward | None:
        account = pbx.directory.by_number(number)
        assert account is not None
        return account.calls.forward_always

    await service.renumber("2102", "2105")
    assert forwards_to("2101") == Forward("extension", "2105")
    await service.delete(["2105"])
    assert forwards_to("2101") == Forward("voicemail")
    assert forwards_to("2103") == Forward("voicemail")
