"""The PIN an outbound route asks for: keys until #, the PIN's length or a pause;
the right PIN goes on to the number, anything else is told so and hung up."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from kilopbx.engine.applications import Connect, Release
from kilopbx.engine.route_pin import ASK, FALLBACK, WRONG, WRONG_PIN, RoutePin


class Sounds:
    def prompt(self, name: str) -> str | None:
        return f"file:{name}.wav" if name == ASK else None


class Engine:
    def sounds(self) -> Sounds:
        return Sounds()


class Channel:
    def __init__(self, keys: str, *, hung_up: bool = False) -> None:
        self.keys = list(keys)
        self.played: list[str] = []
        self.timeouts: list[float | None] = []
        self.hung_up = hung_up

    async def play(self, prompt: str) -> bool:
        self.played.append(prompt)
        return True

    async def next_digit(self, timeout: float | None) -> str | None:
        self.timeouts.append(timeout)
        return self.keys.pop(0) if self.keys else None  # None: a pause

    def clear_digits(self) -> None:
        self.keys.clear()


def run(pin: str, channel: Channel) -> Any:
    application = RoutePin(cast(Any, Engine()), pin)
    assert asyncio.run(application.owns("0044")) is False
    return asyncio.run(application.run(cast(Any, channel), "00441632960555"))


def test_the_right_pin_goes_on_to_the_number() -> None:
    channel = Channel("4321")
    assert run("4321", channel) == Connect("00441632960555")
    assert channel.played == ["file:enter-pin.wav"]
    assert channel.timeouts == [10.0, 5.0, 5.0, 5.0]  # stops at the PIN's length


def test_the_pin_may_end_with_pound() -> None:
    assert run("12", Channel("12#")) == Connect("00441632960555")


def test_a_wrong_short_long_or_missing_pin_hangs_up() -> None:
    for keys in ("4320", "43#", "", "4#321", "9" * 40):
        channel = Channel(keys)
        assert run("4321", channel) == Release(WRONG_PIN), keys
        assert channel.played == ["file:enter-pin.wav", FALLBACK[WRONG]]


def test_a_caller_gone_hears_nothing_more() -> None:
    channel = Channel("", hung_up=True)
    assert run("4321", channel) == Release(WRONG_PIN)
    assert channel.played == ["file:enter-pin.wav"]
