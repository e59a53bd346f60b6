"""The caller ID a trunk call presents when neither the route (or DOD) nor the trunk
sets one: the extension's own ``callerid``, else its number, with its name."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.trunk_invite import caller_id
from tests.unit.engine.test_trunk_invite import profile


def runtime_of(account: SipAccount) -> Any:
    return SimpleNamespace(caller_account=account)


PLAIN = OutboundChoice("r", "0044", ("ProvA",))


def test_the_extensions_callerid_is_the_last_fallback() -> None:
    own = SipAccount("2001", "2001", "x", display_name="Front Desk", caller_id="4402777")
    assert caller_id(runtime_of(own), PLAIN, profile()) == ("4402777", "Front Desk")


def test_without_callerid_the_number_is_shown() -> None:
    plain = SipAccount("2001", "2001", "x", display_name="Front Desk")
    assert caller_id(runtime_of(plain), PLAIN, profile()) == ("2001", "Front Desk")


def test_the_trunk_and_the_route_come_before_the_extension() -> None:
    own = SipAccount("2001", "2001", "x", display_name="Front Desk", caller_id="4402777")
    trunk = profile(caller_id_number="4402999", caller_id_name="Main")
    assert caller_id(runtime_of(own), PLAIN, trunk) == ("4402999", "Main")
    route = OutboundChoice("r", "0044", ("ProvA",), caller_id_number="4402555")
    assert caller_id(runtime_of(own), route, trunk) == ("4402555", "")
