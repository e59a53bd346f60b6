from __future__ import annotations

import random

import pytest

from kilopbx.connection_slots import ConnectionSlots


def test_eviction_picks_the_oldest_of_the_heaviest_address() -> None:
    slots: ConnectionSlots[str] = ConnectionSlots()
    assert slots.eviction_candidate() is None and slots.heaviest() is None
    slots.add("10.0.0.1", "a1")
    for n in range(3):
        slots.add("10.0.0.2", f"b{n}")
    slots.add("10.0.0.1", "a2")
    assert slots.heaviest() == "10.0.0.2"
    assert slots.eviction_candidate() == "b0"
    slots.touch("b0")
    assert slots.eviction_candidate() == "b1"
    assert slots.oldest() == "a1"
    assert slots.remove("b1") and slots.remove("b2")
    assert not slots.remove("b2")
    # two addresses with two each: the one that got there first is the heaviest
    assert slots.count("10.0.0.2") == 1 and slots.count("10.0.0.1") == 2
    assert slots.heaviest() == "10.0.0.1"
    assert len(slots) == 3 and "a2" in slots and "b2" not in slots


def test_heaviest_follows_a_random_workload() -> None:
    rng = random.Random(7)
    slots: ConnectionSlots[int] = ConnectionSlots()
    model: dict[int, str] = {}
    for step in range(3000):
        if model and rng.random() < 0.45:
            item = rng.choice(list(model))
            slots.remove(item)
            del model[item]
        else:
            address = f"10.0.0.{rng.randrange(6)}"
            slots.add(address, step)
            model[step] = address
        counts: dict[str, int] = {}
        for address in model.values():
            counts[address] = counts.get(address, 0) + 1
        heaviest = slots.heaviest()
        if not counts:
            assert heaviest is None
            continue
        assert heaviest is not None and counts[heaviest] == max(counts.values())
        assert slots.oldest(heaviest) == min(i for i, a in model.items() if a == heaviest)


def test_adding_twice_is_a_bug() -> None:
    slots: ConnectionSlots[str] = ConnectionSlots()
    slots.add("h", "x")
    with pytest.raises(ValueError):
        slots.add("h", "x")
