"""The parking lot's slots: the first free one, a taken one, one outside the range,
and calls that ended while parked."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from kilopbx.core.errors import DomainError
from kilopbx.engine.call_model import Bridge, Channel, ChannelState, Role
from kilopbx.engine.call_park import NO_SUCH_SLOT, SLOT_TAKEN, ParkingLot, retrieve_slot


def talking_call(number: str) -> Any:
    a = Channel(f"PJSIP/{number}-1", Role.CALLER, number, ChannelState.UP)
    b = Channel(f"PJSIP/{number}-2", Role.CALLEE, "2002", ChannelState.UP)
    call = SimpleNamespace(bridge=Bridge(a.id, b.id), caller=a)
    machine = SimpleNamespace(ended=False)
    fed: list[Any] = []
    members = SimpleNamespace(active=False, held={})  # no conference in the call
    return SimpleNamespace(call=call, machine=machine, members=members, feed=fed.append, fed=fed), a


def test_slots() -> None:
    async def run() -> None:
        lot = ParkingLot(SimpleNamespace(now=lambda: 5.0), timeout=60)  # type: ignore[arg-type]
        first, channel = talking_call("2001")
        assert lot.park(first, channel, None, "2002") == "7001"
        second, channel2 = talking_call("2003")
        with pytest.raises(DomainError) as taken:
            lot.park(second, channel2, "7001", "2002")
        assert taken.value.reason == SLOT_TAKEN
        with pytest.raises(DomainError) as outside:
            lot.park(second, channel2, "9999", "2002")
        assert outside.value.reason == NO_SUCH_SLOT
        assert lot.park(second, channel2, None, "2002") == "7002"
        first.machine.ended = True  # hung up while parked: the slot is free again
        assert [p.slot for p in lot.status()] == ["7002"]
        assert lot.take("7001") is None
        parked = lot.take("7002")
        assert parked is not None and parked.number == "2003" and lot.status() == []

    asyncio.run(run())


def test_a_slot_is_taken_only_for_its_own_call() -> None:
    """``call/dial`` to a slot takes the call it rang for, not one parked there since."""

    async def run() -> None:
        lot = ParkingLot(SimpleNamespace(now=lambda: 5.0), timeout=60)  # type: ignore[arg-type]
        first, channel = talking_call("2001")
        other, _ = talking_call("2003")
        lot.park(first, channel, "7005", "2002")
        parked = lot.parked_on("7005")
        assert parked is not None and parked.runtime is first
        assert lot.take("7005", other) is None and lot.parked_on("7005") is parked
        assert lot.take("7005", first) is parked and lot.parked_on("7005") is None

    asyncio.run(run())


@pytest.mark.parametrize(
    ("dialled", "slot"),
    [("*717001", "7001"), ("*717020", "7020"), ("*717021", None), ("*71", None), ("*7", None)],
)
def test_retrieve_codes(dialled: str, slot: str | None) -> None:
    assert retrieve_slot(dialled) == slot
