"""Which numbers a member of a call dials outside (transfers, added members), and the
INVITE of such a leg: the route's rewritten number, the member's caller ID, no 100rel."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kilopbx.engine.directory import SipAccount
from kilopbx.engine.routing import OutboundChoice
from kilopbx.engine.trunk_calls import outside_number
from kilopbx.engine.trunk_invite import outside_invite
from kilopbx.engine.trunking import TrunkTarget
from tests.unit.engine.test_trunk_invite import profile


def engine(*extensions: str) -> Any:
    directory = SimpleNamespace(by_number=lambda n: object() if n in extensions else None)
    sip = SimpleNamespace(contact=lambda destination: "<sip:pbx@127.0.0.1:5060>")
    return SimpleNamespace(directory=directory, sip=sip)


@pytest.mark.parametrize(
    ("number", "outside"),
    [
        ("9555000222", True),
        ("+33612345678", True),
        ("01234", True),
        ("2002", False),  # an extension
        ("*97", False),  # a feature code
        ("*717001", False),
        ("x" * 10, False),
        ("2003\u0000", False),
        ("5" * 33, False),  # longer than any number
        ("", False),
    ],
)
def test_outside_number(number: str, outside: bool) -> None:
    assert outside_number(engine("2002"), number) is outside


def test_outside_invite_carries_the_route_number_and_the_members_caller_id() -> None:
    choice = OutboundChoice(number="00555000222", route="Intl", trunks=("ProvA",))
    caller = SipAccount(number="2001", auth_name="2001", password="", display_name="Al")
    target = TrunkTarget("127.0.0.1", 5070, "udp")
    request = outside_invite(
        engine(), caller, 70, choice, profile(), target, b"v=0\r\n", reliable=False
    )
    assert request.uri == "sip:00555000222@provider.test"
    assert (request.headers.get("From") or "").startswith('"Al" <sip:2001@provider.test>')
    assert request.headers.get("Supported") is None  # no PRACK on this leg
    assert request.headers.get("Max-Forwards") == "70"
    again = outside_invite(engine(), caller, 69, choice, profile(), target, b"v=0\r\n")
    assert again.headers.get("Supported") == "100rel"  # the outbound call's own INVITE
