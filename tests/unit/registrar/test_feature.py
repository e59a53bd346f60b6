"""The registrar feature's glue: directory changes drop bindings, status changes become
ExtensionStatus events on the bus, the Pbx hooks answer from the binding table."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from kilopbx.apps.registrar.config import RegistrarConfig
from kilopbx.apps.registrar.core import RegisterRequest
from kilopbx.apps.registrar.feature import Registrar
from kilopbx.clock import FakeClock
from kilopbx.config import Settings
from kilopbx.engine.directory import AccountDirectory, SipAccount
from kilopbx.engine.sip_service import SipService
from kilopbx.events.bus import EventBus
from kilopbx.events.types import Event, ExtensionStatus

ANA = SipAccount("2001", "ana2001", "Kx7mPq2wRt9vBn4Z", max_registrations=3)


class Setup:
    def __init__(self) -> None:
        self.events: list[Event] = []
        bus = EventBus()
        bus.subscribe(self.events.append)
        self.directory = AccountDirectory()
        self.directory.load([ANA])
        self.pbx = SimpleNamespace(
            clock=FakeClock(),
            bus=bus,
            directory=self.directory,
            settings=Settings(),
            engine=None,
        )
        self.registrar = Registrar(
            self.pbx,  # type: ignore[arg-type]
            RegistrarConfig(),
            sip=SipService(),
            directory=self.directory,
        )
        self.registrar._loading = False
        self.directory.on_change(self.registrar._directory_changed)
        self.marked: list[str] = []
        self.registrar.store.mark = self.marked.append  # type: ignore[method-assign]
        self.registrar._arm = lambda: None  # type: ignore[method-assign]

    def register(self, contact: str, host: str, call_id: str) -> None:
        request = RegisterRequest("2001", call_id, 1, [(contact, None)], expires=300, host=host)
        assert self.registrar.core.register(request, 3).status == 200
        self.pbx.clock.advance(1)

    def statuses(self) -> list[tuple[str, str, str | None]]:
        return [
            (e.extension, e.status, e.registered_ip)
            for e in self.events
            if isinstance(e, ExtensionStatus)
        ]


@pytest.fixture
def setup() -> Setup:
    return Setup()


def test_status_events_and_hooks(setup: Setup) -> None:
    registrar = setup.registrar
    assert registrar.line_status("2001") == "Unavailable"
    setup.register("sip:2001@10.0.0.5", "10.0.0.5", "a")
    setup.register("sip:2001@10.0.0.6", "10.0.0.6", "b")
    assert setup.statuses() == [
        ("2001", "Registered", "10.0.0.5"),
        ("2001", "Registered", "10.0.0.6"),
    ]
    assert registrar.line_status("2001") == "Registered"
    assert registrar.registered_ip("2001") == "10.0.0.6"
    assert [b.host for b in registrar.contacts_for("2001")] == ["10.0.0.6", "10.0.0.5"]
    assert setup.marked == ["2001", "2001"]


def test_lower_max_registrations_keeps_newest(setup: Setup) -> None:
    for i, host in enumerate(("10.0.0.5", "10.0.0.6", "10.0.0.7")):
        setup.register(f"sip:2001@{host}", host, f"c{i}")
    setup.directory.put(replace(ANA, max_registrations=1))
    assert [b.host for b in setup.registrar.contacts_for("2001")] == ["10.0.0.7"]
    setup.directory.put(replace(ANA, max_registrations=1, display_name="Ana C"))
    assert len(setup.registrar.contacts_for("2001")) == 1  # unrelated change: kept


@pytest.mark.parametrize("change", [{"password": "Other1Password2x"}, {"auth_name": "anac2001"}])
def test_new_credentials_drop_bindings(setup: Setup, change: dict[str, str]) -> None:
    setup.register("sip:2001@10.0.0.5", "10.0.0.5", "a")
    setup.directory.put(replace(ANA, **change))
    assert setup.registrar.contacts_for("2001") == []
    assert setup.statuses()[-1] == ("2001", "Unregistered", None)


def test_deleted_extension_drops_bindings(setup: Setup) -> None:
    setup.register("sip:2001@10.0.0.5", "10.0.0.5", "a")
    setup.directory.remove("2001")
    assert setup.registrar.contacts_for("2001") == []
    assert setup.statuses() == [("2001", "Registered", "10.0.0.5"), ("2001", "Unregistered", None)]
    assert setup.registrar.line_status("2001") == "Unavailable"
